// Raw baseline: events through RabbitMQ with amqplib, persistent messages to a
// durable queue, publisher confirms, consumer acks. A call is one event from
// publish to handled (confirmed and acked); the in-flight count is the
// confirm window. Publisher and consumer use separate connections.
// config.url `nameko`: the wire svc's AMQP events speak instead of one plain
// exchange: events to the source's `<source>.events` exchange, bound into a
// cluster-wide exchange that a handler naming no source binds its queue to,
// with Nameko's properties and headers.
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const nameko = config.url === 'nameko';
const exchange = uniqueName(nameko ? 'bench-source.events' : 'bench-events');
const queue = uniqueName('bench-events-handler');
const pubConn = await amqp.connect(amqpUrl, { noDelay: true });
const subConn = await amqp.connect(amqpUrl, { noDelay: true });
const pub = await pubConn.createConfirmChannel();
const sub = await subConn.createChannel();
await sub.assertExchange(exchange, 'topic', { durable: true, autoDelete: true });
await sub.assertQueue(queue, { durable: true });
if (nameko) {
  const all = uniqueName('bench-all-events');
  await sub.assertExchange(all, 'topic', { durable: true, autoDelete: true });
  await sub.bindExchange(all, exchange, '#');
  await sub.bindQueue(queue, all, 'greeted');
} else {
  await sub.bindQueue(queue, exchange, 'greeted');
}
await sub.prefetch(100);
const handled = new Map();
await sub.consume(queue, (msg) => {
  // null: the queue was deleted at the end of the run.
  if (msg === null) return;
  const id = msg.properties.messageId;
  sub.ack(msg);
  handled.get(id)?.();
  handled.delete(id);
});
let nextId = 0;
const body = Buffer.from(JSON.stringify({ name: 'bench' }));
const options = (messageId) =>
  nameko
    ? {
        deliveryMode: 2,
        priority: 0,
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        messageId,
        headers: { 'nameko.call_id_stack': [], 'nameko.trace_id': messageId },
      }
    : { persistent: true, messageId };
const call = () => {
  const messageId = String(++nextId);
  const done = new Promise((resolve) => handled.set(messageId, resolve));
  const confirmed = new Promise((resolve, reject) =>
    pub.publish(exchange, 'greeted', body, options(messageId), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return Promise.all([confirmed, done]);
};
const windows = await closedLoop(call, config);
await sub.deleteQueue(queue);
await pubConn.close();
await subConn.close();
report({ windows });
