// Registry size: 10, 100 and 500 registered instances (light registrations:
// registrar.mjs, one process holding them all, services of 10 instances
// each), on the local registry and on ZooKeeper. Per size:
// - `svc discover --json` as a user runs it (a whole CLI process), wall time;
// - `registry.list()` and one service's `lookup()` in a connected client;
// - how long a new instance (another process registering one instance of
//   S0) and then a killed one (that process SIGKILLed) take to reach a
//   caller watching S0;
// - the watching caller's own CPU while nothing changes (every instance
//   watches the services it calls, so this is paid by each of them).
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { connect } from '@svc/core';
import { median, settings } from '../lib/measure.mjs';
import { start } from '../lib/proc.mjs';
import { benchCluster, svcBin } from '../lib/svc-cli.mjs';
import { benchDir } from '../lib/proc.mjs';

const sizes = (process.env.BENCH_SCALE_REGISTRY ?? '10,100,500').split(',').map(Number);
const zkUrl = process.env.BENCH_ZK_URL ?? 'zookeeper://127.0.0.1:2181';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function timed(fn) {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

function runCli(args, env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, [svcBin, ...args], {
      cwd: benchDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`svc ${args.join(' ')} exited ${code}: ${err}`));
      else resolve({ ms: performance.now() - t0, out });
    });
  });
}

/** Waits until `check()` holds; the time it took, in ms (NaN after `limitMs`). */
async function until(check, limitMs = 10_000) {
  const t0 = performance.now();
  while (!check()) {
    if (performance.now() - t0 > limitMs) return NaN;
    await sleep(2);
  }
  return performance.now() - t0;
}

async function measure(kind, size) {
  const registryUrl =
    kind === 'local' ? 'local' : `${zkUrl}/svc-bench-${randomBytes(4).toString('hex')}`;
  const cluster = benchCluster({ SVC_REGISTRY: registryUrl });
  const saved = { ...process.env };
  Object.assign(process.env, {
    SVC_LOCAL_REGISTRY_DIR: cluster.dir,
    SVC_CLUSTER: 'bench',
    SVC_REGISTRY: registryUrl,
  });
  const registrar = await start(
    'scale/registrar.mjs',
    [JSON.stringify({ count: size, perService: 10 })],
    60_000,
    cluster.env,
  );
  const client = await connect({ name: 'bench-watcher', sinks: [] });
  const registry = client.backends.registry;
  try {
    const discover = [];
    for (let i = 0; i < settings.runs; i++) {
      const { ms, out } = await runCli(['discover', '--json'], cluster.env);
      const seen = Object.values(JSON.parse(out)).reduce((n, list) => n + list.length, 0);
      if (seen !== size) throw new Error(`svc discover saw ${seen} instances of ${size}`);
      discover.push(ms);
    }
    const list = [];
    const lookup = [];
    for (let i = 0; i < 5 * settings.runs; i++) {
      list.push(await timed(() => registry.list()));
      lookup.push(await timed(() => registry.lookup('S0')));
    }
    let current = [];
    const unwatch = registry.watch('S0', (instances) => (current = instances));
    await until(() => current.length === Math.min(10, size));
    // Idle: the watcher's own CPU while nothing changes.
    const cpu0 = process.cpuUsage();
    const idleMs = 2000;
    await sleep(idleMs);
    const cpu = process.cpuUsage(cpu0);
    const idleCpu = (100 * (cpu.user + cpu.system)) / 1000 / idleMs;
    const seenNew = [];
    const seenGone = [];
    // The killed instance runs on this host: on ZooKeeper too, readers check its pid (a
    // killed instance of another host would stay for its session's timeout, about 10 s, unless a
    // reader of its own host removed its node).
    for (let i = 0; i < settings.runs; i++) {
      const before = current.length;
      const one = await start(
        'scale/registrar.mjs',
        [JSON.stringify({ count: 1, perService: 1, prefix: 'S' })],
        30_000,
        cluster.env,
      );
      // From the end of its registration (its ready line) to the watcher.
      seenNew.push(await until(() => current.length === before + 1));
      process.kill(one.pid, 'SIGKILL');
      seenGone.push(await until(() => current.length === before, 60_000));
      await one.stop();
    }
    unwatch();
    return {
      size,
      discover: median(discover),
      list: median(list),
      lookup: median(lookup),
      seenNew: median(seenNew),
      seenGone: median(seenGone),
      idleCpu,
    };
  } finally {
    await client.close();
    await registrar.stop();
    process.env = saved;
    cluster.remove();
  }
}

const metrics = [
  { key: 'discover', label: 'svc discover ms' },
  { key: 'list', label: 'list() ms' },
  { key: 'lookup', label: 'lookup() ms' },
  { key: 'seenNew', label: 'new seen ms' },
  { key: 'seenGone', label: 'killed seen ms' },
  { key: 'idleCpu', label: 'watcher idle CPU %' },
];

export default ['local', 'zookeeper'].map((kind) => ({
  name: `registry ${kind}`,
  async run() {
    if (kind === 'zookeeper') {
      const { execFileSync } = await import('node:child_process');
      execFileSync('bash', [new URL('../../scripts/zookeeper.sh', import.meta.url).pathname], {
        stdio: 'ignore',
      });
    }
    const rows = [];
    for (const size of sizes) rows.push(await measure(kind, size));
    return [
      {
        title: `Registry size, ${kind}: instances registered`,
        size: 'instances',
        metrics,
        chart: ['discover', 'lookup', 'seenNew', 'seenGone', 'idleCpu'],
        rows,
        notes:
          kind === 'zookeeper'
            ? [
                'a killed instance of this host is left out once its pid is gone (checked every 250 ms while watched), and its node removed; one of another host, once a reader of its own host removes its node, else when its session expires (the sessionTimeout of the registry URL)',
              ]
            : [],
      },
    ];
  },
}));
