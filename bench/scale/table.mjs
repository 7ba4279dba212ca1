// One table per curve: a row per size, each metric's figure and its growth
// from the previous size (×2.0 where the size grew ×10 is a sub-linear step).
const num = (v) =>
  !Number.isFinite(v)
    ? '—'
    : Math.abs(v) >= 100
      ? Math.round(v).toLocaleString('en-US')
      : v.toFixed(Math.abs(v) >= 10 ? 1 : 2);

/**
 * @param {{ title: string, size: string, metrics: { key: string, label: string }[],
 *   rows: { size: number, [key: string]: number | string }[], notes?: string[] }} curve
 */
export function printCurve(curve) {
  const withGrowth = !curve.growthless;
  const head = [
    curve.size,
    ...curve.metrics.flatMap((m) => (withGrowth ? [m.label, 'growth'] : [m.label])),
  ];
  const body = curve.rows.map((row, i) => {
    const prev = curve.rows[i - 1];
    return [
      `${row.size}${prev && withGrowth ? ` (×${num(row.size / prev.size)})` : ''}`,
      ...curve.metrics.flatMap((m) => {
        const v = row[m.key];
        if (!withGrowth) return [typeof v === 'string' ? v : num(v)];
        if (typeof v === 'string') return [v, ''];
        const p = prev?.[m.key];
        const growth = typeof p === 'number' && p > 0 && Number.isFinite(v) ? `×${num(v / p)}` : '';
        return [num(v), growth];
      }),
    ];
  });
  const table = [head, ...body];
  const widths = head.map((_, i) => Math.max(...table.map((r) => String(r[i]).length)));
  const line = (r) => `| ${r.map((c, i) => String(c).padEnd(widths[i])).join(' | ')} |`;
  console.log(`\n${curve.title}`);
  console.log(line(head));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const r of body) console.log(line(r));
  for (const n of curve.notes ?? []) console.log(`  ${n}`);
}
