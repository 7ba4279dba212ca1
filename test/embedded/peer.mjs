// A small real process for the embedded-backend tests: it joins the cluster
// named by SVC_CLUSTER under SVC_LOCAL_REGISTRY_DIR, says "ready <pid>" on
// stdout, then waits to be killed.
//   node peer.mjs registry <service>      registers one instance
//   node peer.mjs rpc <service> <name>    serves `who` (answers <name>) and
//                                         `slow` (prints "got slow", never answers)
//   node peer.mjs listen <service> <type>  handles events of <type>, printing
//                                         "event <body.i>" for each
//   node peer.mjs emit <type> <delay>     publishes one event, then exits at once
//                                         (as `svc emit --delay` does)
import { createEventTransport, createRegistry, createRpcTransport } from '@svc/core';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import process from 'node:process';
import { setInterval } from 'node:timers';

const [role, service, name] = process.argv.slice(2);
const log = {
  debug() {},
  info() {},
  warn(msg, fields) {
    process.stderr.write(`${msg} ${JSON.stringify(fields ?? {})}\n`);
  },
  error(msg, fields) {
    process.stderr.write(`${msg} ${JSON.stringify(fields ?? {})}\n`);
  },
  child() {
    return log;
  },
};
const ctx = {
  cluster: process.env.SVC_CLUSTER ?? 'default',
  bindHost: '127.0.0.1',
  log,
  clientName: service,
};
const registry = await createRegistry('local', ctx);
if (role === 'emit') {
  const events = await createEventTransport('local', registry, ctx);
  process.stdout.write(`publishing ${Date.now()}\n`);
  await events.publish(
    {
      id: randomBytes(8).toString('hex'),
      type: service,
      source: 'peer',
      body: { from: process.pid },
      headers: { traceId: 'emit-trace', callIdStack: [], data: {} },
    },
    { delay: Number(name) },
  );
  await events.close();
  await registry.close();
  process.exit(0);
}
let endpoints = {};
let subscriptions = [];
if (role === 'listen') {
  const events = await createEventTransport('local', registry, ctx);
  const spec = { service, handler: 'on', type: name, mode: 'pool' };
  await events.subscribe(spec, async (e) => {
    process.stdout.write(`event ${e.body.i}\n`);
  });
  endpoints = await events.start();
  subscriptions = [{ type: name, mode: 'pool', handler: 'on' }];
}
if (role === 'rpc') {
  const rpc = await createRpcTransport('zmq', registry, ctx);
  endpoints = await rpc.listen([service], async (req) => {
    if (req.method === 'slow') {
      process.stdout.write('got slow\n');
      return new Promise(() => {});
    }
    return { ok: true, result: name };
  });
}
await registry.register({
  id: randomBytes(8).toString('hex'),
  service,
  host: hostname(),
  pid: process.pid,
  startedAt: Date.now(),
  endpoints,
  subscriptions,
});
process.stdout.write(`ready ${process.pid}\n`);
setInterval(() => {}, 60_000);
