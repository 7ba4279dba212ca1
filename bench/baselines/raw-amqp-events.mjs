// Raw baseline: events through RabbitMQ with amqplib, persistent messages to a
// durable queue, publisher confirms, consumer acks. A call is one event from
// publish to handled (confirmed and acked); the in-flight count is the
// confirm window. Publisher and consumer use separate connections.
import amqp from 'amqplib';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const exchange = uniqueName('bench-events');
const queue = uniqueName('bench-events-handler');
const pubConn = await amqp.connect(amqpUrl, { noDelay: true });
const subConn = await amqp.connect(amqpUrl, { noDelay: true });
const pub = await pubConn.createConfirmChannel();
const sub = await subConn.createChannel();
await sub.assertExchange(exchange, 'topic', { durable: true, autoDelete: true });
await sub.assertQueue(queue, { durable: true });
await sub.bindQueue(queue, exchange, 'greeted');
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
const call = () => {
  const messageId = String(++nextId);
  const done = new Promise((resolve) => handled.set(messageId, resolve));
  const confirmed = new Promise((resolve, reject) =>
    pub.publish(exchange, 'greeted', body, { persistent: true, messageId }, (err) =>
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
