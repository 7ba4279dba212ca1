// Raw baseline: RPC over RabbitMQ with amqplib. Requests on a queue (acked
// after the reply is published), replies to the caller's reply queue, JSON bodies.
import '../lib/child.mjs';
import process from 'node:process';
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';

const conn = await amqp.connect(amqpUrl, { noDelay: true });
const ch = await conn.createChannel();
const queue = uniqueName('bench-rpc');
await ch.assertQueue(queue, { durable: false, autoDelete: true });
await ch.prefetch(200);
await ch.consume(queue, (msg) => {
  if (msg === null) return;
  const { name } = JSON.parse(msg.content.toString());
  ch.publish('', msg.properties.replyTo, Buffer.from(JSON.stringify(`Hi, ${name}!`)), {
    correlationId: msg.properties.correlationId,
  });
  ch.ack(msg);
});
process.stdout.write(`${JSON.stringify({ address: queue })}\n`);
