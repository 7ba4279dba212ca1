// Event fan-out in one process: one emitter and `subscribers` subscribing
// services (each its own EventTransport: its own connection, queue or
// socket, as separate services have), one event type. An event completes
// when every subscriber handled it; 100 events in flight. config.url:
// `local`, `amqp://...`, or `raw` (amqplib: a durable queue per subscriber
// bound to one exchange, persistent confirmed publishes, acked deliveries).
// CPU per delivery: this process's CPU ÷ (events × subscribers).
import { randomBytes } from 'node:crypto';
import amqp from 'amqplib';
import { createEventTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';
import { amqpUrl, uniqueName } from '../lib/amqp.mjs';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const k = config.subscribers;
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const waiting = new Map();
const handled = (id) => {
  const w = waiting.get(id);
  if (w && --w.left === 0) {
    waiting.delete(id);
    w.resolve();
  }
};
const expect = (id) => new Promise((resolve) => waiting.set(id, { left: k, resolve }));
let n = 0;
let call;
let cleanup;

if (config.url === 'raw') {
  const exchange = uniqueName('bench-fanout');
  const pubConn = await amqp.connect(amqpUrl, { noDelay: true });
  const pub = await pubConn.createConfirmChannel();
  await pub.assertExchange(exchange, 'topic', { durable: true, autoDelete: true });
  const subs = [];
  for (let i = 0; i < k; i++) {
    const conn = await amqp.connect(amqpUrl, { noDelay: true });
    const ch = await conn.createChannel();
    const queue = uniqueName(`bench-fanout-${i}`);
    await ch.assertQueue(queue, { durable: true });
    await ch.bindQueue(queue, exchange, 'greeted');
    await ch.prefetch(100);
    await ch.consume(queue, (msg) => {
      if (msg === null) return;
      ch.ack(msg);
      handled(msg.properties.messageId);
    });
    subs.push({ conn, ch, queue });
  }
  const body = Buffer.from(JSON.stringify({ name: 'bench' }));
  call = () => {
    const id = String(++n);
    const done = expect(id);
    const confirmed = new Promise((resolve, reject) =>
      pub.publish(exchange, 'greeted', body, { persistent: true, messageId: id }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    return Promise.all([confirmed, done]);
  };
  cleanup = async () => {
    for (const s of subs) {
      await s.ch.deleteQueue(s.queue);
      await s.conn.close();
    }
    await pubConn.close();
  };
} else {
  const store = new MemoryRegistryStore();
  const ctx = (name) => ({
    cluster: 'bench',
    bindHost: '127.0.0.1',
    log: silent,
    clientName: name,
  });
  const tag = randomBytes(3).toString('hex');
  const subs = [];
  for (let i = 0; i < k; i++) {
    const service = `fan${tag}x${i}`;
    const sub = await createEventTransport(config.url, new MemoryRegistry(store), ctx(service));
    await sub.subscribe(
      { service, handler: 'handle', type: 'greeted', mode: 'pool', prefetch: 100 },
      async (event) => handled(event.id),
    );
    const endpoints = await sub.start();
    await new MemoryRegistry(store).register({
      id: randomBytes(8).toString('hex'),
      service,
      host: '127.0.0.1',
      pid: process.pid,
      startedAt: Date.now(),
      endpoints,
      subscriptions: [{ type: 'greeted', mode: 'pool', handler: 'handle' }],
    });
    subs.push({ sub, service });
  }
  const pub = await createEventTransport(config.url, new MemoryRegistry(store), ctx('emitter'));
  await pub.start();
  call = () => {
    const id = `e${++n}`;
    const done = expect(id);
    const accepted = pub.publish({
      id,
      type: 'greeted',
      source: 'emitter',
      body: { name: 'bench' },
      headers: { traceId: id, callIdStack: [], data: {} },
    });
    return Promise.all([accepted, done]);
  };
  cleanup = async () => {
    await pub.close();
    for (const s of subs) await s.sub.close();
    if (config.url.startsWith('amqp')) {
      const conn = await amqp.connect(config.url);
      const ch = await conn.createChannel();
      for (const s of subs) await ch.deleteQueue(`evt-*-greeted--${s.service}.handle`);
      await conn.close();
    }
  };
}

const windows = await closedLoop(call, config);
await cleanup();
// Per delivery, not per event: every event is handled `k` times.
report({ windows: windows.map((w) => ({ ...w, rate: w.rate * k, cpuUs: w.cpuUs / k })) });
