// Raw baseline client: publishes requests with replyTo + correlationId and
// reads replies from its own queue, closed loop. config.url `nameko`:
// Nameko's wire (requests to the `nameko-rpc` topic exchange with key
// `<service>.hello`, mandatory and persistent, with Nameko's properties and
// headers; a durable, expiring reply queue bound to that exchange) instead of
// the lightest one (transient requests straight to the queue, an exclusive
// reply queue).
import { randomUUID } from 'node:crypto';
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
// config.payload: the name's length in bytes (the payload-size curve), else 'bench'.
const name = config.payload ? 'x'.repeat(config.payload) : 'bench';
const nameko = config.url === 'nameko';
const conn = await amqp.connect(amqpUrl, { noDelay: true });
const ch = await conn.createChannel();
const replyId = randomUUID();
let replyTo;
if (nameko) {
  replyTo = replyId;
  const queue = uniqueName('rpc.reply-bench');
  await ch.assertExchange('nameko-rpc', 'topic', { durable: true });
  await ch.assertQueue(queue, { durable: true, expires: 60_000 });
  await ch.bindQueue(queue, 'nameko-rpc', replyId);
  await consume(queue);
} else {
  ({ queue: replyTo } = await ch.assertQueue('', { exclusive: true, autoDelete: true }));
  await consume(replyTo);
}
const pending = new Map();
let nextId = 0;

async function consume(queue) {
  await ch.consume(
    queue,
    (msg) => {
      if (msg === null) return;
      const resolve = pending.get(msg.properties.correlationId);
      pending.delete(msg.properties.correlationId);
      const body = JSON.parse(msg.content.toString());
      resolve?.(nameko ? body.result : body);
    },
    { noAck: true },
  );
}

const body = Buffer.from(JSON.stringify(nameko ? { args: [], kwargs: { name } } : { name }));
const call = () =>
  new Promise((resolve) => {
    const correlationId = nameko ? randomUUID() : String(++nextId);
    pending.set(correlationId, resolve);
    if (!nameko) {
      ch.publish('', config.address, body, { correlationId, replyTo });
      return;
    }
    ch.publish('nameko-rpc', `${config.address}.hello`, body, {
      mandatory: true,
      replyTo,
      correlationId,
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 0,
      headers: {
        'nameko.call_id_stack': [`bench.call.${correlationId}`],
        'nameko.trace_id': correlationId,
      },
    });
  });
const windows = await closedLoop(call, config);
await conn.close();
report({ windows });
