// Raw baseline: RPC over RabbitMQ with amqplib. Requests on a queue (acked
// after the reply is published), replies to the caller's reply queue, JSON bodies.
// argv[2] `nameko`: Nameko's wire instead of the lightest one: requests through
// the `nameko-rpc` topic exchange to a durable `rpc-<service>` queue, replies
// through the same exchange to the caller's durable reply queue, persistent
// messages with Nameko's properties, each request acked right after its
// reply is published on the same channel: what svc's AMQP transport does.
import '../lib/child.mjs';
import process from 'node:process';
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';

const nameko = process.argv[2] === 'nameko';
const conn = await amqp.connect(amqpUrl, { noDelay: true });
const ch = await conn.createChannel();
const service = uniqueName('bench');
let queue;
if (nameko) {
  queue = `rpc-${service}`;
  await ch.assertExchange('nameko-rpc', 'topic', { durable: true });
  // (a durable queue outlives this process: it expires a minute after its last use)
  await ch.assertQueue(queue, { durable: true, expires: 60_000 });
  await ch.bindQueue(queue, 'nameko-rpc', `${service}.*`);
} else {
  queue = service;
  await ch.assertQueue(queue, { durable: false, autoDelete: true });
}
await ch.prefetch(200);
await ch.consume(queue, (msg) => {
  if (msg === null) return;
  const { correlationId, replyTo } = msg.properties;
  if (!nameko) {
    const { name } = JSON.parse(msg.content.toString());
    ch.publish('', replyTo, Buffer.from(JSON.stringify(`Hi, ${name}!`)), { correlationId });
    ch.ack(msg);
    return;
  }
  const { kwargs } = JSON.parse(msg.content.toString());
  const reply = Buffer.from(JSON.stringify({ result: `Hi, ${kwargs.name}!`, error: null }));
  ch.publish('nameko-rpc', replyTo, reply, {
    correlationId,
    contentType: 'application/json',
    contentEncoding: 'utf-8',
    deliveryMode: 2,
    priority: 0,
    headers: {},
  });
  ch.ack(msg);
});
// The client needs the queue (lightest) or the service name (Nameko's routing key).
process.stdout.write(`${JSON.stringify({ address: nameko ? service : queue })}\n`);
