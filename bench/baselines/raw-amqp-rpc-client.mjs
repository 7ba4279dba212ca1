// Raw baseline client: publishes requests with replyTo + correlationId and
// reads replies from an exclusive queue (no-ack), closed loop.
import amqp from 'amqplib';
import { amqpUrl } from '../lib/amqp.mjs';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const conn = await amqp.connect(amqpUrl, { noDelay: true });
const ch = await conn.createChannel();
const { queue: replyTo } = await ch.assertQueue('', { exclusive: true, autoDelete: true });
const pending = new Map();
let nextId = 0;
await ch.consume(
  replyTo,
  (msg) => {
    if (msg === null) return;
    const resolve = pending.get(msg.properties.correlationId);
    pending.delete(msg.properties.correlationId);
    resolve?.(JSON.parse(msg.content.toString()));
  },
  { noAck: true },
);
const body = Buffer.from(JSON.stringify({ name: 'bench' }));
const call = () =>
  new Promise((resolve) => {
    const correlationId = String(++nextId);
    pending.set(correlationId, resolve);
    ch.publish('', config.address, body, { correlationId, replyTo });
  });
const windows = await closedLoop(call, config);
await conn.close();
report({ windows });
