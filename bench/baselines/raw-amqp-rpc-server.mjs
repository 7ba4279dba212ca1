// Raw baseline: RPC over RabbitMQ with amqplib. Requests on a queue (acked
// after the reply is published), replies to the caller's reply queue, JSON bodies.
// argv[2] `durable`: Nameko's guarantees instead of the lightest ones: a durable
// request queue, persistent replies, and each request acked only once its
// reply is confirmed (a confirm channel), as svc's AMQP transport does.
import '../lib/child.mjs';
import process from 'node:process';
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';

const durable = process.argv[2] === 'durable';
const conn = await amqp.connect(amqpUrl, { noDelay: true });
const ch = durable ? await conn.createConfirmChannel() : await conn.createChannel();
const queue = uniqueName('bench-rpc');
// (a durable queue outlives this process: it expires a minute after its last use)
await ch.assertQueue(
  queue,
  durable ? { durable: true, expires: 60_000 } : { durable: false, autoDelete: true },
);
await ch.prefetch(200);
await ch.consume(queue, (msg) => {
  if (msg === null) return;
  const { name } = JSON.parse(msg.content.toString());
  const reply = Buffer.from(JSON.stringify(`Hi, ${name}!`));
  const props = { correlationId: msg.properties.correlationId, persistent: durable };
  if (!durable) {
    ch.publish('', msg.properties.replyTo, reply, props);
    ch.ack(msg);
    return;
  }
  ch.publish('', msg.properties.replyTo, reply, props, (err) => {
    if (err) ch.nack(msg);
    else ch.ack(msg);
  });
});
process.stdout.write(`${JSON.stringify({ address: queue })}\n`);
