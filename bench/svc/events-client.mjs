// svc events, emit to handled: one EventTransport publishes (for AMQP:
// persistent and confirmed), another, in the same process on its own
// connection, handles (and acks). A call resolves when its event was both
// accepted by the backend and handled. config.url: `local` or `amqp://...`.
import { randomBytes } from 'node:crypto';
import { createEventTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
// One registry shared by both sides: the local transport finds subscribers through it.
const store = new MemoryRegistryStore();
const ctx = (name) => ({ cluster: 'bench', bindHost: '127.0.0.1', log: silent, clientName: name });
const service = `bench${randomBytes(4).toString('hex')}`;
const sub = await createEventTransport(config.url, new MemoryRegistry(store), ctx(service));
const pub = await createEventTransport(config.url, new MemoryRegistry(store), ctx('emitter'));
const handled = new Map();
const spec = { service, handler: 'handle', type: 'greeted', mode: 'pool', prefetch: 100 };
await sub.subscribe(spec, async (event) => {
  handled.get(event.id)?.();
  handled.delete(event.id);
});
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
await pub.start();
let n = 0;
const call = () => {
  const id = `e${++n}`;
  const done = new Promise((resolve) => handled.set(id, resolve));
  const accepted = pub.publish({
    id,
    type: 'greeted',
    source: 'emitter',
    body: { name: 'bench' },
    headers: { traceId: id, callIdStack: [], data: {} },
  });
  return Promise.all([accepted, done]);
};
const windows = await closedLoop(call, config);
await pub.close();
await sub.close();
if (config.url.startsWith('amqp')) {
  // The pool queue is durable (as Nameko's): remove this run's, named as NAMEKO-WIRE §1.2 says.
  const amqp = await import('amqplib');
  const conn = await amqp.default.connect(config.url);
  const ch = await conn.createChannel();
  await ch.deleteQueue(`evt-*-greeted--${service}.handle`);
  await conn.close();
}
report({ windows });
