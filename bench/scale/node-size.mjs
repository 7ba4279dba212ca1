// `svc node` size: 9, 30 and 60 processes of one service (the Greeter of
// conf/greeter.yml, `svc instance` with its defaults) under one supervisor.
// Per size, one cluster (a cold start is long and its figure steady): cold
// start until every process is registered and has answered an RPC at its
// own address; the resident memory of the supervisor and of all its
// processes; the supervisor's own CPU and RSS over 5 s of idling after that.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from '@svc/core';
import { cpuTimeUs, benchDir } from '../lib/proc.mjs';
import { benchCluster, svcBin } from '../lib/svc-cli.mjs';

const sizes = (process.env.BENCH_SCALE_NODE ?? '9,30,60').split(',').map(Number);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export function rssMb(pid) {
  try {
    const kb = Number(/^VmRSS:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]);
    return kb / 1024;
  } catch {
    return 0;
  }
}

async function oneSize(n) {
  const cluster = benchCluster();
  const config = join(cluster.dir, 'scale.svc.yml');
  writeFileSync(
    config,
    `instances:\n  Greeter:\n    command: svc instance --config=conf/greeter.yml\n    numprocesses: ${n}\n    cwd: ${benchDir}\n`,
  );
  const saved = { ...process.env };
  Object.assign(process.env, { SVC_LOCAL_REGISTRY_DIR: cluster.dir, SVC_CLUSTER: 'bench' });
  const client = await connect({ name: 'bench', timeout: 5000, sinks: [] });
  process.env = saved;
  const t0 = performance.now();
  const node = spawn(process.execPath, [svcBin, 'node', '--config', config], {
    cwd: cluster.dir,
    env: cluster.env,
    stdio: ['ignore', 'ignore', 'ignore'],
  });
  try {
    const answered = new Set();
    const deadline = Date.now() + 120_000;
    let records = [];
    while (answered.size < n) {
      if (Date.now() > deadline)
        throw new Error(`svc node: ${answered.size} of ${n} answered in 120 s`);
      if (node.exitCode !== null) throw new Error(`svc node exited ${node.exitCode}`);
      records = (await client.discover()).get('Greeter') ?? [];
      await Promise.all(
        records
          .filter((r) => !answered.has(r.id))
          .map((r) =>
            client.call('Greeter', 'hello', { name: 'bench' }, { address: r.endpoints.rpc }).then(
              () => answered.add(r.id),
              () => {},
            ),
          ),
      );
      if (answered.size < n) await sleep(20);
    }
    const coldMs = performance.now() - t0;
    await sleep(2000);
    const cpu0 = cpuTimeUs(node.pid);
    const idleMs = 5000;
    await sleep(idleMs);
    const supervisorCpu = (100 * (cpuTimeUs(node.pid) - cpu0)) / 1000 / idleMs;
    const supervisorRss = rssMb(node.pid);
    const totalRss = supervisorRss + records.reduce((mb, r) => mb + rssMb(r.pid), 0);
    return { size: n, coldMs, perProcessMs: coldMs / n, totalRss, supervisorCpu, supervisorRss };
  } finally {
    node.kill('SIGTERM');
    const t = setTimeout(() => node.kill('SIGKILL'), 20_000);
    if (node.exitCode === null) await once(node, 'exit');
    clearTimeout(t);
    await client.close();
    cluster.remove();
  }
}

export default [
  {
    name: 'svc node size',
    async run() {
      const rows = [];
      for (const n of sizes) rows.push(await oneSize(n));
      return [
        {
          title: '`svc node` size: processes under one supervisor (one cluster per size)',
          size: 'processes',
          chart: ['coldMs', 'totalRss', 'supervisorRss'],
          metrics: [
            { key: 'coldMs', label: 'cold start ms' },
            { key: 'perProcessMs', label: 'ms per process' },
            { key: 'totalRss', label: 'total RSS MB' },
            { key: 'supervisorCpu', label: 'supervisor idle CPU %' },
            { key: 'supervisorRss', label: 'supervisor RSS MB' },
          ],
          rows,
        },
      ];
    },
  },
];
