// `svc node` of the lymph tour (9 processes): cold start until every
// instance is registered and Web → Greeting answers over HTTP, then the
// restart of a SIGKILLed Greeting instance until its replacement is
// registered and answers. Compared with the targets of issue 7 (3 s, 1 s).
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connect } from '@svc/core';
import { median, settings } from '../lib/measure.mjs';
import { benchDir, freePort } from '../lib/proc.mjs';

const svcBin = fileURLToPath(new URL('../../packages/cli/bin/svc.js', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const silentSink = { write() {} };

async function until(what, deadline, check) {
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`svc node: ${what} not within the deadline`);
    await sleep(20);
  }
}

async function oneCluster() {
  const dir = mkdtempSync(join(tmpdir(), 'svc-bench-node-'));
  const port = await freePort();
  const env = {
    ...process.env,
    SVC_LOCAL_REGISTRY_DIR: dir,
    SVC_CLUSTER: 'bench',
    BENCH_WEB_PORT: String(port),
    SVC_LOG_LEVEL: 'warn',
  };
  // The client reads the same registry directory as the cluster.
  const saved = process.env.SVC_LOCAL_REGISTRY_DIR;
  process.env.SVC_LOCAL_REGISTRY_DIR = dir;
  const client = await connect({
    cluster: 'bench',
    registry: 'local',
    name: 'bench',
    timeout: 2000,
    sinks: [silentSink],
  });
  if (saved === undefined) delete process.env.SVC_LOCAL_REGISTRY_DIR;
  else process.env.SVC_LOCAL_REGISTRY_DIR = saved;
  const t0 = performance.now();
  const node = spawn(
    process.execPath,
    [svcBin, 'node', '--config', join(benchDir, 'tour.svc.yml')],
    {
      cwd: benchDir,
      env,
      stdio: ['ignore', 'ignore', 'ignore'],
    },
  );
  try {
    const deadline = Date.now() + 30_000;
    const count = async () =>
      [...(await client.discover()).values()].reduce((n, l) => n + l.length, 0);
    await until('9 registered instances', deadline, async () => (await count()) >= 9);
    await until('an answer from Web', deadline, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/greet?name=bench`);
      return res.ok;
    });
    const coldMs = performance.now() - t0;

    const before = (await client.discover()).get('Greeting') ?? [];
    const victim = before[0];
    const t1 = performance.now();
    process.kill(victim.pid, 'SIGKILL');
    const old = new Set(before.map((r) => r.pid));
    await until('a replacement Greeting', Date.now() + 30_000, async () => {
      const fresh = ((await client.discover()).get('Greeting') ?? []).find((r) => !old.has(r.pid));
      if (!fresh) return false;
      await client.call('Greeting', 'greet', { name: 'bench' }, { address: fresh.endpoints.rpc });
      return true;
    });
    return { coldMs, restartMs: performance.now() - t1 };
  } finally {
    node.kill('SIGTERM');
    const t = setTimeout(() => node.kill('SIGKILL'), 10_000);
    if (node.exitCode === null) await once(node, 'exit');
    clearTimeout(t);
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default [
  {
    name: '`svc node` cold start and restart',
    async run() {
      const cold = [];
      const restart = [];
      for (let r = 0; r < settings.runs; r++) {
        const { coldMs, restartMs } = await oneCluster();
        cold.push(coldMs);
        restart.push(restartMs);
      }
      const row = (scenario, values, target) => ({
        scenario,
        unit: 'ms',
        lowerIsBetter: true,
        svc: { rate: median(values) },
        baseline: { name: 'target (issue 7)', rate: target },
      });
      return {
        rows: [
          row('svc node cold start, lymph tour (9 processes)', cold, 3000),
          row('restart of a SIGKILLed instance until it answers', restart, 1000),
        ],
      };
    },
  },
];
