// `pnpm bench --scale [filter]`: how svc's costs grow with the cluster. Each
// curve measures a few sizes and prints one table with the growth per step;
// every figure is a median of BENCH_RUNS (3) fresh measurements unless the
// curve says otherwise. The figures are also written as JSON
// (BENCH_SCALE_OUT, default bench/scale/results.json) for chart.mjs.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { printCurve } from './table.mjs';

const curves = [
  './registry.mjs',
  './fanout.mjs',
  './node-size.mjs',
  './payload.mjs',
  './tools.mjs',
  './node-versions.mjs',
];

export async function runScale(filter) {
  const started = Date.now();
  const results = [];
  const failed = [];
  for (const m of curves) {
    if (!existsSync(fileURLToPath(new URL(m, import.meta.url)))) continue;
    for (const curve of (await import(m)).default) {
      if (filter && !curve.name.toLowerCase().includes(filter.toLowerCase())) continue;
      const t0 = Date.now();
      try {
        const out = await curve.run();
        console.error(`- ${curve.name}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        for (const table of out) {
          printCurve(table);
          results.push({ name: curve.name, ...table });
        }
      } catch (err) {
        failed.push(`${curve.name}: ${err instanceof Error ? err.message : String(err)}`);
        console.error(`- ${curve.name}: FAILED ${err instanceof Error ? err.stack : String(err)}`);
      }
    }
  }
  for (const f of failed) console.log(`FAILED: ${f}`);
  console.log(`(${((Date.now() - started) / 1000).toFixed(0)} s, node ${process.version})`);
  const out =
    process.env.BENCH_SCALE_OUT ?? fileURLToPath(new URL('./results.json', import.meta.url));
  // A filtered run replaces only its own curves' figures, in place.
  let merged = results;
  try {
    const previous = JSON.parse(readFileSync(out, 'utf8')).results;
    const fresh = new Map(results.map((r) => [`${r.name}\0${r.title}`, r]));
    merged = previous.map((r) => fresh.get(`${r.name}\0${r.title}`) ?? r);
    const had = new Set(previous.map((r) => `${r.name}\0${r.title}`));
    merged.push(...results.filter((r) => !had.has(`${r.name}\0${r.title}`)));
  } catch {
    // no figures yet
  }
  writeFileSync(
    out,
    `${JSON.stringify({ node: process.version, date: new Date().toISOString(), results: merged }, null, 1)}\n`,
  );
}
