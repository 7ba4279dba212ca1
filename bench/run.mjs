// Runs every benchmark scenario and prints one table. A scenario is a module
// exporting `{ name, waitsFor?(), run() }`: waitsFor names the missing piece
// of svc it needs (then it is left out of the table), run resolves with rows
// `{ scenario, unit, svc, baseline: { name, ... } }`. Usage:
//   node run.mjs [filter]   only scenarios whose name contains `filter`
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { settings } from './lib/measure.mjs';

const modules = [
  './scenarios/rpc-net.mjs',
  './scenarios/rpc-net-tls.mjs',
  './scenarios/rpc-zmq.mjs',
  './scenarios/rpc-amqp.mjs',
  './scenarios/events.mjs',
  './scenarios/http-rpc.mjs',
  './scenarios/idle-rss.mjs',
  './scenarios/node.mjs',
  './scenarios/tail-latency.mjs',
  './scenarios/tracing.mjs',
];

const coreDist = fileURLToPath(new URL('../packages/core/dist/index.js', import.meta.url));
if (!existsSync(coreDist)) {
  console.error('bench: packages/core/dist is missing; run `pnpm build` at the root first');
  process.exit(2);
}

const args = process.argv.slice(2);
if (args[0] === '--node') {
  // The same suite on another Node.js major: scripts/node-bin.sh prints its binary.
  const { execFileSync, spawnSync } = await import('node:child_process');
  const bin = execFileSync(
    'bash',
    [fileURLToPath(new URL('../scripts/node-bin.sh', import.meta.url)), args[1]],
    {
      encoding: 'utf8',
    },
  ).trim();
  const r = spawnSync(bin, [fileURLToPath(import.meta.url), ...args.slice(2)], {
    stdio: 'inherit',
  });
  process.exit(r.status ?? 1);
}
if (args[0] === '--scale') {
  const { runScale } = await import('./scale/run.mjs');
  await runScale(args[1]);
  process.exit(0);
}
const filter = args[0]?.toLowerCase();
const scenarios = [];
for (const m of modules) scenarios.push(...(await import(m)).default);

const rows = [];
const waiting = [];
const failed = [];
const started = Date.now();
console.error(
  `bench: ${settings.runs} runs x ${settings.windows} windows of ${settings.windowMs} ms ` +
    `(after ${settings.warmupMs} ms warm-up) per figure`,
);
for (const s of scenarios) {
  if (filter && !s.name.toLowerCase().includes(filter)) continue;
  const waits = s.waitsFor ? await s.waitsFor() : null;
  if (waits) {
    waiting.push(`${s.name}: waits for ${waits}`);
    console.error(`- ${s.name}: waits for ${waits}`);
    continue;
  }
  const t0 = Date.now();
  try {
    const out = await s.run();
    rows.push(...out.rows);
    if (out.notes) waiting.push(...out.notes.map((n) => `${s.name}: ${n}`));
    console.error(`- ${s.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (err) {
    failed.push(`${s.name}: ${err instanceof Error ? err.message : String(err)}`);
    console.error(`- ${s.name}: FAILED ${err instanceof Error ? err.stack : String(err)}`);
  }
}

const num = (v, digits = 0) =>
  Number.isFinite(v)
    ? v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : '—';
const ms = (v) => (Number.isFinite(v) ? `${v.toFixed(v < 10 ? 2 : 1)}` : '—');
const table = [
  [
    'scenario',
    'svc',
    'baseline',
    'baseline figure',
    'ratio',
    'svc p50/p99 ms',
    'base p50/p99 ms',
    'CPU µs/call svc : base',
  ],
  ...rows.map((r) => [
    r.scenario,
    `${num(r.svc.rate)} ${r.unit}`,
    r.baseline.name,
    `${num(r.baseline.rate)} ${r.unit}`,
    r.lowerIsBetter
      ? r.svc.rate > 0
        ? `${num(r.baseline.rate / r.svc.rate, 2)}x`
        : // under the clock's resolution (1 ms for log records): better than the baseline by more than it
          `>${num(r.baseline.rate, 0)}x`
      : `${num(r.svc.rate / r.baseline.rate, 2)}x`,
    Number.isFinite(r.svc.p50) ? `${ms(r.svc.p50)} / ${ms(r.svc.p99)}` : '',
    Number.isFinite(r.baseline.p50) ? `${ms(r.baseline.p50)} / ${ms(r.baseline.p99)}` : '',
    Number.isFinite(r.svc.cpuUs) && Number.isFinite(r.baseline.cpuUs)
      ? `${num(r.svc.cpuUs, 1)} : ${num(r.baseline.cpuUs, 1)}`
      : '',
  ]),
];
const widths = table[0].map((_, i) => Math.max(...table.map((row) => row[i].length)));
const line = (row) => `| ${row.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(line(table[0]));
console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
for (const row of table.slice(1)) console.log(line(row));
for (const w of waiting) console.log(`not in the table: ${w}`);
for (const f of failed) console.log(`FAILED: ${f}`);
console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s, node ${process.version})`);
