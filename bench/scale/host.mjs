// Many instances in one process, each a whole `Instance` of the Greeter as
// `svc instance` builds it (local registry, net RPC, its `svc tail` log
// stream), for the tools curve: what `svc tail` and `svc top` meet is one
// log stream and one `svc.get_metrics` endpoint per instance, wherever the
// instances run. argv[2]: { count, linesPerSec } — the load: every instance
// logs its share of `linesPerSec` records, in a burst every 10 ms.
import '../lib/child.mjs';
import { Instance } from '@svc/core';
import { createLogStream } from '@svc/tail';
import { Greeter, instanceConfig } from '../svc/runtime.mjs';

const { count, linesPerSec = 0 } = JSON.parse(process.argv[2]);
const instances = [];
for (let i = 0; i < count; i++) {
  const logs = createLogStream();
  const inst = new Instance({
    // What `svc instance` resolves from a config naming the real backends.
    config: {
      ...instanceConfig('Greeter', 10),
      cluster: process.env.SVC_CLUSTER ?? 'bench',
      registry: 'local',
      events: 'local',
      log: { level: 'info' },
    },
    classes: { Greeter },
    sinks: [logs],
    extensions: [logs],
  });
  await inst.start();
  instances.push(inst);
}
let sent = 0;
if (linesPerSec > 0) {
  const perTick = linesPerSec / 100 / count;
  let owed = 0;
  setInterval(() => {
    owed += perTick;
    const n = Math.floor(owed);
    owed -= n;
    for (const inst of instances) {
      for (let j = 0; j < n; j++)
        inst.log.info('rpc Greeter.hello ok', {
          kind: 'rpc',
          entrypoint: 'Greeter.hello',
          duration_ms: 0.05,
          n: sent++,
        });
    }
  }, 10);
}
process.stdout.write(`${JSON.stringify({ started: count })}\n`);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.removeAllListeners(signal);
  process.on(signal, () => {
    void Promise.all(instances.map((i) => i.stop())).finally(() => process.exit(0));
  });
}
