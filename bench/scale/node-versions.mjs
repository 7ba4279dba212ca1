// Node versions: the main table's key rows on Node.js 20, 22 and 24
// (scripts/node-bin.sh prints each binary; every process of a run uses it).
// Node 24's AsyncContextFrame changes what AsyncLocalStorage costs, which
// every worker context pays. `pnpm bench --node 22` runs the whole table.
import { execFileSync, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const majors = (process.env.BENCH_SCALE_NODES ?? '20,22,24').split(',');
const filters = ['RPC net', 'HTTP'];
const runJs = fileURLToPath(new URL('../run.mjs', import.meta.url));
const nodeBin = fileURLToPath(new URL('../../scripts/node-bin.sh', import.meta.url));

/** Rows of the main table printed by `node run.mjs filter`: scenario + baseline → ratio, CPU. */
async function mainTable(bin, filter) {
  const out = await new Promise((resolve, reject) => {
    // One run per figure by default (BENCH_SCALE_NODE_RUNS): three versions of two scenarios.
    const env = { ...process.env, BENCH_RUNS: process.env.BENCH_SCALE_NODE_RUNS ?? '1' };
    const child = spawn(bin, [runJs, filter], { env, stdio: ['ignore', 'pipe', 'ignore'] });
    let text = '';
    child.stdout.on('data', (d) => (text += d));
    child.on('close', (code) =>
      code === 0 ? resolve(text) : reject(new Error(`${bin} run.mjs exited ${code}`)),
    );
  });
  const rows = {};
  for (const line of out.split('\n')) {
    const cells = line.split('|').map((c) => c.trim());
    if (cells.length < 9 || !/x$/.test(cells[5] ?? '')) continue;
    rows[`${cells[1]} vs ${cells[3]}`] = {
      ratio: Number(cells[5].replace('x', '')),
      rate: cells[2],
    };
  }
  return rows;
}

const keys = [
  ['RPC net transport, 1 in flight vs raw net+msgpack', 'net c=1 ÷ raw'],
  ['RPC end to end, 1 in flight vs Moleculer TCP', 'e2e c=1 ÷ Moleculer'],
  [
    'RPC end to end, both on one CPU, 1 in flight vs Moleculer TCP, one CPU',
    'e2e c=1 one CPU ÷ Moleculer',
  ],
  ['RPC end to end, 100 in flight vs Moleculer TCP', 'e2e c=100 ÷ Moleculer'],
  ['RPC end to end, 100 in flight vs raw net+msgpack', 'e2e c=100 ÷ raw'],
  ['HTTP→RPC, 50 connections vs node:http + raw net', 'HTTP→RPC ÷ raw'],
];

export default [
  {
    name: 'node versions',
    async run() {
      const rows = [];
      for (const major of majors) {
        const bin = execFileSync('bash', [nodeBin, major], { encoding: 'utf8' }).trim();
        const version = execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim();
        const table = {};
        for (const f of filters) Object.assign(table, await mainTable(bin, f));
        const row = { size: Number(major), version };
        for (const [key, label] of keys) row[label] = table[key]?.ratio ?? NaN;
        rows.push(row);
      }
      return [
        {
          title:
            'Node.js versions: ratios of the main table (each run against its baselines on the same Node)',
          size: 'node',
          growthless: true,
          metrics: [
            { key: 'version', label: 'version' },
            ...keys.map(([, label]) => ({ key: label, label })),
          ],
          rows,
        },
      ];
    },
  },
];
