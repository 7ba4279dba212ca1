// Tools: `svc tail --json` following 1, 10 and 50 instances that together
// log BENCH_SCALE_TAIL_RATE (20,000) records a second: the lines it prints
// a second and its CPU; `svc top`'s refresh (one `svc.get_metrics` of every
// instance, as each refresh of the dashboard does) over 10, 50 and 100
// instances: its time and CPU; and `svc dashboard` over 10, 50 and 100
// instances with one Chromium page on its overview: the time until the page
// shows every instance with its figures, the server's CPU and RSS while the
// page stays open, and its CPU and the bytes it pushes a refresh. The
// instances are whole Instances hosted in one process (host.mjs), each with
// its own log stream and RPC endpoint.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { connect } from '@svc/core';
import { MetricsCollector } from '@svc/tail';
import { median, settings } from '../lib/measure.mjs';
import { benchDir, cpuTimeUs, start } from '../lib/proc.mjs';
import { benchCluster, registered, svcBin } from '../lib/svc-cli.mjs';

const tailSizes = (process.env.BENCH_SCALE_TAIL ?? '1,10,50').split(',').map(Number);
const topSizes = (process.env.BENCH_SCALE_TOP ?? '10,50,100').split(',').map(Number);
const dashSizes = (process.env.BENCH_SCALE_DASHBOARD ?? '10,50,100').split(',').map(Number);
const chromiumPath = process.env.BENCH_CHROMIUM ?? '/usr/bin/chromium';
const rate = Number(process.env.BENCH_SCALE_TAIL_RATE ?? 20_000);
/** Extra node flags for every child (e.g. BENCH_NODE_FLAGS=--cpu-prof), as lib/proc.mjs passes them. */
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
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

/** Resident memory of a live process, bytes (NaN where /proc is missing). */
function rssBytes(pid) {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) * 1024 : NaN;
  } catch {
    return NaN;
  }
}

// countFeed and allShown run in the page (Playwright sends their source there).
/* global window, document, Request, Response, TextDecoder, TransformStream */

/**
 * Run in the page before its own code: counts the bytes of the live feed
 * (`/api/stream`) and its `cluster` events (one a reading of the cluster).
 */
function countFeed() {
  const feed = { bytes: 0, readings: 0 };
  window.__feed = feed;
  const fetch0 = window.fetch;
  window.fetch = async (...args) => {
    const res = await fetch0(...args);
    const url = String(args[0] instanceof Request ? args[0].url : args[0]);
    if (!url.includes('/api/stream') || !res.body) return res;
    const decoder = new TextDecoder();
    // An event name cut between two chunks: the carry is one character shorter than
    // the name, so a whole one is never counted twice.
    const name = 'event: cluster\n';
    let carry = '';
    const counted = res.body.pipeThrough(
      new TransformStream({
        transform(chunk, out) {
          feed.bytes += chunk.byteLength;
          const text = carry + decoder.decode(chunk, { stream: true });
          for (let i = text.indexOf(name); i !== -1; i = text.indexOf(name, i + 1)) feed.readings++;
          carry = text.slice(-(name.length - 1));
          out.enqueue(chunk);
        },
      }),
    );
    return new Response(counted, {
      status: res.status,
      statusText: res.statusText,
      headers: res.headers,
    });
  };
}

/** Whether the overview lists `count` instances of the Greeter, each with its figures. */
function allShown(count) {
  const rows = document.querySelectorAll('[data-service="Greeter"] tr[data-instance]');
  return (
    rows.length === count &&
    document.querySelectorAll('[data-service="Greeter"] tr[data-instance] td.muted').length === 0
  );
}

async function dashboardOnce(count, browser) {
  return withHost(count, 0, async (cluster) => {
    // As a user starts it, in the bench cluster's environment (no .svc.yml: no node view).
    const dash = spawn(process.execPath, [...nodeFlags, svcBin, 'dashboard', '--port', '0'], {
      cwd: benchDir,
      env: cluster.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    dash.stderr.on('data', (d) => (stderr += d));
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    try {
      const address = /http:\/\/127\.0\.0\.1:\d+\/#token=\S+/;
      const lines = createInterface({ input: dash.stdout });
      let timer;
      const url = await Promise.race([
        new Promise((resolve) =>
          lines.on('line', (l) => address.test(l) && resolve(address.exec(l)[0])),
        ),
        once(dash, 'exit').then(() => {
          throw new Error(`svc dashboard exited: ${stderr.trim()}`);
        }),
        new Promise((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`svc dashboard printed no address in 30 s: ${stderr.trim()}`)),
            30_000,
          );
        }),
      ]).finally(() => clearTimeout(timer));
      await page.addInitScript(countFeed);
      // From navigation to every instance drawn with its figures; three fresh loads.
      const shown = [];
      for (let i = 0; i < 3; i++) {
        await page.goto('about:blank');
        const t0 = performance.now();
        await page.goto(url);
        await page.waitForFunction(allShown, count, { timeout: 20_000 });
        shown.push(performance.now() - t0);
      }
      // The last page stays open on the overview: the server's cost while it follows,
      // from one reading the page got to the fifth after it (about 5 s).
      const readingAfter = async (n) => {
        await page.waitForFunction((k) => window.__feed.readings > k, n, {
          polling: 10,
          timeout: 20_000,
        });
        const c = cpuTimeUs(dash.pid);
        return { cpu: c, time: performance.now(), ...(await page.evaluate(() => window.__feed)) };
      };
      await sleep(1000);
      const first = await readingAfter(await page.evaluate(() => window.__feed.readings));
      const last = await readingAfter(first.readings + 4);
      const readings = last.readings - first.readings;
      const s = (last.time - first.time) / 1000;
      const cpu = last.cpu - first.cpu;
      if (!(await page.evaluate(allShown, count)))
        throw new Error(`the page no longer shows all ${count} instances`);
      return {
        shownMs: median(shown),
        cpuPct: cpu / 1e4 / s,
        rssMB: rssBytes(dash.pid) / 2 ** 20,
        refreshesPerSec: readings / s,
        cpuPerRefreshMs: cpu / 1000 / readings,
        kbPerRefresh: (last.bytes - first.bytes) / 1024 / readings,
      };
    } finally {
      await page.close();
      dash.kill(nodeFlags.length ? 'SIGINT' : 'SIGTERM');
      if (dash.exitCode === null && dash.signalCode === null) await once(dash, 'exit');
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
  {
    name: 'tools dashboard',
    async run() {
      if (!existsSync(chromiumPath))
        throw new Error(
          `no Chromium at ${chromiumPath} (apt-get install chromium, or BENCH_CHROMIUM)`,
        );
      const { chromium } = await import('playwright-core');
      const browser = await chromium.launch({
        executablePath: chromiumPath,
        args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
      });
      const rows = [];
      try {
        for (const n of dashSizes) {
          const runs = [];
          for (let r = 0; r < Math.min(settings.runs, 2); r++)
            runs.push(await dashboardOnce(n, browser));
          const row = { size: n };
          for (const key of Object.keys(runs[0])) row[key] = median(runs.map((x) => x[key]));
          rows.push(row);
        }
      } finally {
        await browser.close();
      }
      return [
        {
          title: '`svc dashboard`, one page on its overview',
          size: 'instances',
          chart: ['cpuPerRefreshMs', 'kbPerRefresh', 'shownMs'],
          metrics: [
            { key: 'shownMs', label: 'page shows all, ms' },
            { key: 'cpuPct', label: 'server CPU %' },
            { key: 'rssMB', label: 'server RSS MB' },
            { key: 'refreshesPerSec', label: 'refreshes/s' },
            { key: 'cpuPerRefreshMs', label: 'CPU ms/refresh' },
            { key: 'kbPerRefresh', label: 'KB pushed/refresh' },
          ],
          rows,
        },
      ];
    },
  },
];
