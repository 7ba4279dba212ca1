// Microbenchmark of the JSON decoding svc does on the AMQP wire and for HTTP
// bodies: `parseJsonSafe` (drops `__proto__` and `constructor.prototype`)
// against plain `JSON.parse`, and against the reviver svc ran on every parse
// before (the "before" column), on messages shaped like the wire's.
// Usage, after `pnpm build` at the root:
//   pnpm --dir bench exec node micro/json-parse.mjs
import { parseJsonSafe } from '@svc/core/internal';

const windowMs = Number(process.env.BENCH_WINDOW_MS ?? 1000);
const runs = Number(process.env.BENCH_RUNS ?? 5);

/** What parseJsonSafe did until the dangerous-key scan: a reviver on every parse. */
const reviverEveryTime = (text) =>
  JSON.parse(text, (key, value) => (key === '__proto__' ? undefined : value));

const messages = {
  'Nameko RPC request (60 B)': JSON.stringify({ args: [], kwargs: { name: 'Flynne' } }),
  'Nameko RPC reply (40 B)': JSON.stringify({ result: 'Hi, Flynne!', error: null }),
  'event body, 20 fields (0.8 KB)': JSON.stringify(
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`field${i}`, `value number ${i}`])),
  ),
  'HTTP body, 100 records (11 KB)': JSON.stringify(
    Array.from({ length: 100 }, (_, i) => ({
      id: i,
      name: `user ${i}`,
      tags: ['a', 'b'],
      ok: true,
    })),
  ),
};

/** Parses per second in one window of `windowMs`. */
function rate(parse, text) {
  let n = 0;
  let sink = 0;
  const end = performance.now() + windowMs;
  while (performance.now() < end) {
    for (let i = 0; i < 1000; i++) sink += parse(text) === null ? 1 : 0;
    n += 1000;
  }
  if (sink < 0) console.log(sink); // keeps the result alive
  return n / (windowMs / 1000);
}

const median = (values) => values.sort((a, b) => a - b)[values.length >> 1];
const contenders = [JSON.parse, reviverEveryTime, parseJsonSafe];
const fmt = (v) => Math.round(v).toLocaleString('en-US');
const rows = [];
for (const [name, text] of Object.entries(messages)) {
  for (const parse of contenders) rate(parse, text); // warm-up
  // The contenders take turns window by window, so a change in the machine's load touches each alike.
  const windows = contenders.map(() => []);
  for (let r = 0; r < runs; r++)
    contenders.forEach((parse, i) => windows[i].push(rate(parse, text)));
  const [plain, before, now] = windows.map(median);
  rows.push([
    name,
    fmt(plain),
    fmt(before),
    fmt(now),
    `${(now / before).toFixed(2)}x`,
    `${(now / plain).toFixed(2)}x`,
  ]);
}

const head = [
  'message',
  'JSON.parse /s',
  'before /s',
  'parseJsonSafe /s',
  'vs before',
  'vs JSON.parse',
];
const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
console.log(`node ${process.versions.node}, median of ${runs} windows of ${windowMs} ms each`);
console.log(line(head));
console.log(`| ${widths.map((w) => '-'.repeat(w)).join(' | ')} |`);
for (const r of rows) console.log(line(r));
