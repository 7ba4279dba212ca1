// Raw baseline client: publishes requests with replyTo + correlationId and
// reads replies from its own queue, closed loop. config.url `durable`:
// Nameko's guarantees (persistent requests on a confirm channel, a durable
// reply queue that expires when unused, replies acked) instead of the
// lightest ones (transient requests, an exclusive reply queue, no acks).
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const durable = config.url === 'durable';
const conn = await amqp.connect(amqpUrl, { noDelay: true });
const ch = durable ? await conn.createConfirmChannel() : await conn.createChannel();
const { queue: replyTo } = durable
  ? await ch.assertQueue(uniqueName('bench-reply'), { durable: true, expires: 60_000 })
  : await ch.assertQueue('', { exclusive: true, autoDelete: true });
const pending = new Map();
let nextId = 0;
await ch.consume(
  replyTo,
  (msg) => {
    if (msg === null) return;
    if (durable) ch.ack(msg);
    const resolve = pending.get(msg.properties.correlationId);
    pending.delete(msg.properties.correlationId);
    resolve?.(JSON.parse(msg.content.toString()));
  },
  { noAck: !durable },
);
const body = Buffer.from(JSON.stringify({ name: 'bench' }));
const call = () =>
  new Promise((resolve) => {
    const correlationId = String(++nextId);
    pending.set(correlationId, resolve);
    ch.publish('', config.address, body, { correlationId, replyTo, persistent: durable });
  });
const windows = await closedLoop(call, config);
await conn.close();
report({ windows });
