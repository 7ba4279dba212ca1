// From a log call in a service to its line in `svc tail`: one Greeting
// instance, one `svc tail --json` process, and calls whose log lines the
// tail process prints. Latency = when the line is read here minus the
// record's own time (one clock: one machine). Target (issue 7): 50 ms.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { connect } from '@svc/core';
import { median, settings } from '../lib/measure.mjs';

const svcBin = fileURLToPath(new URL('../../packages/cli/bin/svc.js', import.meta.url));
const tour = fileURLToPath(new URL('../../examples/lymph-tour', import.meta.url));
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CALLS = 200;

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function oneRun() {
  const dir = mkdtempSync(join(tmpdir(), 'svc-bench-tail-'));
  const env = {
    ...process.env,
    SVC_LOCAL_REGISTRY_DIR: dir,
    SVC_CLUSTER: 'bench-tail',
    SVC_LOG_FORMAT: 'json',
  };
  const procs = [];
  const saved = process.env.SVC_LOCAL_REGISTRY_DIR;
  process.env.SVC_LOCAL_REGISTRY_DIR = dir;
  const client = await connect({ cluster: 'bench-tail', name: 'bench', sinks: [{ write() {} }] });
  if (saved === undefined) delete process.env.SVC_LOCAL_REGISTRY_DIR;
  else process.env.SVC_LOCAL_REGISTRY_DIR = saved;
  try {
    const greeting = spawn(
      process.execPath,
      [svcBin, 'instance', '--config', 'conf/greeting.yml'],
      {
        cwd: tour,
        env,
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    procs.push(greeting);
    for (let i = 0; !(await client.discover()).get('Greeting'); i++) {
      if (i > 300) throw new Error('Greeting did not register');
      await sleep(20);
    }
    const tail = spawn(
      process.execPath,
      [svcBin, 'tail', 'Greeting', '--json', '--grep', 'Saying hi to tail-'],
      {
        env,
        stdio: ['ignore', 'pipe', 'ignore'],
      },
    );
    procs.push(tail);
    const seen = new Map();
    createInterface({ input: tail.stdout }).on('line', (line) => {
      const at = Date.now();
      try {
        const r = JSON.parse(line);
        const m = /tail-(-?\d+)/.exec(r.msg ?? '');
        if (m) seen.set(Number(m[1]), at - r.time);
      } catch {
        // not a record
      }
    });
    // Wait until tail follows the instance: a probe line comes through.
    for (let i = 0; !seen.has(-1); i++) {
      if (i > 200) throw new Error('svc tail did not pick up the instance');
      await client.call('Greeting', 'greet', { name: 'tail--1' }).catch(() => {});
      await sleep(50);
    }
    seen.clear();
    for (let i = 0; i < CALLS; i++) {
      await client.call('Greeting', 'greet', { name: `tail-${i}` });
      await sleep(5);
    }
    for (let i = 0; seen.size < CALLS && i < 100; i++) await sleep(20);
    return [...seen.values()].sort((a, b) => a - b);
  } finally {
    for (const p of procs) p.kill('SIGTERM');
    for (const p of procs) if (p.exitCode === null) await once(p, 'exit');
    await client.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

export default [
  {
    name: 'log call to its line in `svc tail`',
    async run() {
      const p50s = [];
      const p99s = [];
      for (let r = 0; r < settings.runs; r++) {
        const sorted = await oneRun();
        p50s.push(quantile(sorted, 0.5));
        p99s.push(quantile(sorted, 0.99));
      }
      const p50 = median(p50s);
      return {
        rows: [
          {
            scenario: 'log call to its line in svc tail (p50)',
            unit: 'ms',
            lowerIsBetter: true,
            svc: { rate: p50, p50, p99: median(p99s) },
            baseline: { name: 'target (issue 7)', rate: 50 },
          },
        ],
      };
    },
  },
];
