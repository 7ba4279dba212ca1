// Draws the scale curves as one SVG (bench/scale/curves.svg) from the
// figures `pnpm bench --scale` wrote (results.json): a panel per curve, each
// metric as its growth from the smallest size (its figure ÷ the figure at
// the first size), on log–log axes with two guides: flat (×1, what a cost
// paid once should do) and linear (grows as the size). A line under the
// linear guide grows slower than the size.
//   node scale/chart.mjs [results.json] [out.svg]
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const input = process.argv[2] ?? fileURLToPath(new URL('./results.json', import.meta.url));
const output = process.argv[3] ?? fileURLToPath(new URL('./curves.svg', import.meta.url));
const { results, node, date } = JSON.parse(readFileSync(input, 'utf8'));

const panels = results.filter((r) => !r.growthless && r.rows.length > 1);
const W = 380;
const H = 250;
const M = { l: 46, r: 26, t: 34, b: 70 };
const cols = 3;
const rowsN = Math.ceil(panels.length / cols);
const colors = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#e377c2'];
const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const log = Math.log10;

function panel(p, x0, y0) {
  const sizes = p.rows.map((r) => r.size);
  const maxSize = sizes.at(-1) / sizes[0];
  // Only the costs a curve names for the chart (`chart`: metric keys), else every metric.
  const shown = p.chart ? p.metrics.filter((m) => p.chart.includes(m.key)) : p.metrics;
  const series = shown
    .map((m, i) => {
      const base = p.rows[0][m.key];
      if (typeof base !== 'number' || !(base > 0)) return null;
      const pts = p.rows.map((r) => [r.size / sizes[0], r[m.key] / base]);
      return pts.every(([, g]) => Number.isFinite(g) && g > 0)
        ? { label: m.label, pts, color: colors[i % colors.length] }
        : null;
    })
    .filter(Boolean);
  const ys = series.flatMap((s) => s.pts.map(([, g]) => g));
  const yMin = Math.min(0.1, ...ys);
  const yMax = Math.max(maxSize * 1.2, ...ys);
  const pw = W - M.l - M.r;
  const ph = H - M.t - M.b;
  const X = (v) => x0 + M.l + (log(v) / log(maxSize)) * pw;
  const Y = (v) => y0 + M.t + ph - ((log(v) - log(yMin)) / (log(yMax) - log(yMin))) * ph;
  const out = [];
  out.push(
    `<text x="${x0 + M.l}" y="${y0 + 14}" font-size="11" font-weight="bold">${esc(p.title.length > 50 ? `${p.title.slice(0, 49)}…` : p.title)}</text>`,
  );
  out.push(
    `<rect x="${x0 + M.l}" y="${y0 + M.t}" width="${pw}" height="${ph}" fill="none" stroke="#ccc"/>`,
  );
  for (let e = Math.ceil(log(yMin)); e <= Math.floor(log(yMax)); e++) {
    const v = 10 ** e;
    out.push(
      `<line x1="${x0 + M.l}" x2="${x0 + M.l + pw}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/>`,
    );
    out.push(
      `<text x="${x0 + M.l - 4}" y="${Y(v) + 3}" font-size="9" text-anchor="end">×${v}</text>`,
    );
  }
  for (const s of sizes) {
    out.push(
      `<text x="${X(s / sizes[0])}" y="${y0 + M.t + ph + 12}" font-size="9" text-anchor="middle">${s}</text>`,
    );
  }
  out.push(
    `<text x="${x0 + M.l + pw / 2}" y="${y0 + M.t + ph + 23}" font-size="9" text-anchor="middle" fill="#555">${esc(p.size)}</text>`,
  );
  // Guides: flat and linear.
  out.push(
    `<line x1="${X(1)}" y1="${Y(1)}" x2="${X(maxSize)}" y2="${Y(1)}" stroke="#999" stroke-dasharray="2,3"/>`,
  );
  out.push(
    `<line x1="${X(1)}" y1="${Y(1)}" x2="${X(maxSize)}" y2="${Y(maxSize)}" stroke="#999" stroke-dasharray="6,3"/>`,
  );
  series.forEach((s, i) => {
    const d = s.pts
      .map(([x, y], j) => `${j ? 'L' : 'M'}${X(x).toFixed(1)},${Y(y).toFixed(1)}`)
      .join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.8"/>`);
    for (const [x, y] of s.pts)
      out.push(`<circle cx="${X(x)}" cy="${Y(y)}" r="2.2" fill="${s.color}"/>`);
    const lx = x0 + M.l + (i % 2) * (pw / 2);
    const ly = y0 + M.t + ph + 36 + Math.floor(i / 2) * 11;
    out.push(`<rect x="${lx}" y="${ly - 7}" width="8" height="3" fill="${s.color}"/>`);
    out.push(`<text x="${lx + 11}" y="${ly - 3}" font-size="9">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

const width = cols * W + 10;
const height = rowsN * H + 40;
const body = panels
  .map((p, i) => panel(p, (i % cols) * W, 30 + Math.floor(i / cols) * H))
  .join('\n');
const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="18" font-size="13" font-weight="bold">svc: growth of each cost from the smallest size (log–log; dotted: flat, dashed: linear) — ${esc(node)}, ${esc(date.slice(0, 10))}</text>
${body}
</svg>
`;
writeFileSync(output, svg);
console.error(`chart: ${panels.length} panels -> ${output}`);
