// Tools: `svc tail --json` following 1, 10 and 50 instances that together
// log BENCH_SCALE_TAIL_RATE (20,000) records a second: the lines it prints
// a second and its CPU; `svc top`'s refresh (one `svc.get_metrics` of every
// instance, as each refresh of the dashboard does) over 10, 50 and 100
// instances: its time and CPU. The instances are whole Instances hosted in
// one process (host.mjs), each with its own log stream and RPC endpoint.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { connect } from '@svc/core';
import { MetricsCollector } from '@svc/tail';
import { median, settings } from '../lib/measure.mjs';
import { benchDir, cpuTimeUs, start } from '../lib/proc.mjs';
import { benchCluster, registered, svcBin } from '../lib/svc-cli.mjs';

const tailSizes = (process.env.BENCH_SCALE_TAIL ?? '1,10,50').split(',').map(Number);
const topSizes = (process.env.BENCH_SCALE_TOP ?? '10,50,100').split(',').map(Number);
const rate = Number(process.env.BENCH_SCALE_TAIL_RATE ?? 20_000);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function withHost(count, linesPerSec, fn) {
  const cluster = benchCluster();
  const host = await start(
    'scale/host.mjs',
    [JSON.stringify({ count, linesPerSec })],
    120_000,
    cluster.env,
  );
  try {
    const deadline = Date.now() + 60_000;
    while (!registered(cluster.dir, 'Greeter', count)) {
      if (Date.now() > deadline) throw new Error(`${count} instances not registered in 60 s`);
      await sleep(50);
    }
    return await fn(cluster);
  } finally {
    await host.stop();
    cluster.remove();
  }
}

async function tailOnce(count) {
  return withHost(count, rate, async (cluster) => {
    const tail = spawn(process.execPath, [svcBin, 'tail', '--json'], {
      cwd: benchDir,
      env: cluster.env,
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      let lines = 0;
      tail.stdout.on('data', (d) => {
        for (let i = d.indexOf(10); i !== -1; i = d.indexOf(10, i + 1)) lines++;
      });
      await sleep(1500);
      const l0 = lines;
      const c0 = cpuTimeUs(tail.pid);
      const t0 = performance.now();
      await sleep(3000);
      const s = (performance.now() - t0) / 1000;
      const cpu = cpuTimeUs(tail.pid) - c0;
      const got = lines - l0;
      return { linesPerSec: got / s, cpuPct: cpu / 1e4 / s, cpuPerLine: cpu / got };
    } finally {
      tail.kill('SIGTERM');
      if (tail.exitCode === null) await once(tail, 'exit');
    }
  });
}

async function topOnce(count) {
  return withHost(count, 0, async (cluster) => {
    const saved = { ...process.env };
    Object.assign(process.env, { SVC_LOCAL_REGISTRY_DIR: cluster.dir, SVC_CLUSTER: 'bench' });
    const client = await connect({ name: 'svc-top', sinks: [] });
    process.env = saved;
    try {
      const collector = new MetricsCollector(client);
      await collector.sample();
      const times = [];
      const cpus = [];
      for (let i = 0; i < 5; i++) {
        const c0 = process.cpuUsage();
        const t0 = performance.now();
        const sample = await collector.sample();
        times.push(performance.now() - t0);
        const c = process.cpuUsage(c0);
        cpus.push((c.user + c.system) / 1000);
        if (sample.instances.length !== count)
          throw new Error(`svc top saw ${sample.instances.length} of ${count} instances`);
      }
      return { refreshMs: median(times), refreshCpuMs: median(cpus) };
    } finally {
      await client.close();
    }
  });
}

export default [
  {
    name: 'tools tail',
    async run() {
      const rows = [];
      for (const n of tailSizes) {
        const runs = [];
        for (let r = 0; r < Math.min(settings.runs, 2); r++) runs.push(await tailOnce(n));
        rows.push({
          size: n,
          linesPerSec: median(runs.map((x) => x.linesPerSec)),
          cpuPct: median(runs.map((x) => x.cpuPct)),
          cpuPerLine: median(runs.map((x) => x.cpuPerLine)),
        });
      }
      return [
        {
          title: `\`svc tail --json\` following instances that log ${rate.toLocaleString('en-US')} records/s in all`,
          size: 'instances',
          chart: ['cpuPerLine'],
          metrics: [
            { key: 'linesPerSec', label: 'lines/s printed' },
            { key: 'cpuPct', label: 'tail CPU %' },
            { key: 'cpuPerLine', label: 'tail CPU µs/line' },
          ],
          rows,
        },
      ];
    },
  },
  {
    name: 'tools top',
    async run() {
      const rows = [];
      for (const n of topSizes) rows.push({ size: n, ...(await topOnce(n)) });
      return [
        {
          title: '`svc top`: one refresh (svc.get_metrics of every instance)',
          size: 'instances',
          metrics: [
            { key: 'refreshMs', label: 'refresh ms' },
            { key: 'refreshCpuMs', label: 'refresh CPU ms' },
          ],
          rows,
        },
      ];
    },
  },
];
