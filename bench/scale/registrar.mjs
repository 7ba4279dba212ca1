// Light registrations: one process registers `count` instances, spread over
// services S0, S1... of `perService` instances each, in the registry named by
// SVC_REGISTRY (local: live entries of this process's pid; ZooKeeper:
// ephemeral nodes of its session), prints one JSON line, and stays until
// killed. Records look like a real instance's (endpoints, subscriptions).
import '../lib/child.mjs';
import { randomBytes } from 'node:crypto';
import { connect } from '@svc/core';

const { count, perService, prefix = 'S' } = JSON.parse(process.argv[2]);
const client = await connect({ name: 'bench-registrar', sinks: [] });
const registry = client.backends.registry;
const batch = [];
for (let i = 0; i < count; i++) {
  const port = 20000 + i;
  batch.push(
    registry.register({
      id: randomBytes(8).toString('hex'),
      service: `${prefix}${Math.floor(i / perService)}`,
      host: '127.0.0.1',
      pid: process.pid,
      startedAt: Date.now(),
      endpoints: {
        rpc: `tcp://127.0.0.1:${port}`,
        events: `tcp://127.0.0.1:${port + 1}`,
        logs: `tcp://127.0.0.1:${port + 2}`,
      },
      subscriptions: [{ type: 'greeted', mode: 'pool', handler: 'on_greeted' }],
    }),
  );
  // A bounded number of writes in flight (ZooKeeper requests, files).
  if (batch.length >= 50) await Promise.all(batch.splice(0));
}
await Promise.all(batch);
process.stdout.write(`${JSON.stringify({ registered: count })}\n`);
// Stays registered until killed.
setInterval(() => {}, 1 << 30);
