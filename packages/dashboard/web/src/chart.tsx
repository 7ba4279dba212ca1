export interface Series {
  label: string;
  /** [epoch ms, value] */
  points: Array<[number, number]>;
}

const PALETTE = [
  '#1f77b4',
  '#d62728',
  '#2ca02c',
  '#ff7f0e',
  '#9467bd',
  '#8c564b',
  '#e377c2',
  '#17becf',
  '#7f7f7f',
  '#bcbd22',
];
const W = 560;
const H = 170;
const PAD = { left: 68, right: 8, top: 8, bottom: 20 };
/** Series named in the legend; every series is drawn. */
const LEGEND = 8;

export function colorOf(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** A line chart of the last minutes in plain SVG: one polyline per series. */
export function LineChart(props: {
  title: string;
  series: Series[];
  format: (v: number) => string;
  /** the window shown, ms */
  span: number;
  now: number;
}) {
  const { series, format, span, now } = props;
  let max = 0;
  for (const s of series) for (const [, v] of s.points) if (v > max) max = v;
  const top = max > 0 ? niceCeil(max) : 1;
  const x = (t: number) => PAD.left + ((t - (now - span)) / span) * (W - PAD.left - PAD.right);
  const y = (v: number) => PAD.top + (1 - v / top) * (H - PAD.top - PAD.bottom);
  const ranked = series
    .map((s, i) => ({ s, i, last: s.points.at(-1)?.[1] ?? 0 }))
    .sort((a, b) => b.last - a.last);
  return (
    <figure class="chart" data-chart={props.title}>
      <figcaption>{props.title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={props.title}>
        {[0, 0.5, 1].map((f) => (
          <g key={f}>
            <line class="grid" x1={PAD.left} x2={W - PAD.right} y1={y(top * f)} y2={y(top * f)} />
            <text class="axis" x={PAD.left - 6} y={y(top * f) + 4} text-anchor="end">
              {format(top * f)}
            </text>
          </g>
        ))}
        <text class="axis" x={PAD.left} y={H - 4}>
          −{Math.round(span / 60000)} min
        </text>
        <text class="axis" x={W - PAD.right} y={H - 4} text-anchor="end">
          now
        </text>
        {series.map((s, i) => (
          <polyline
            key={s.label}
            fill="none"
            stroke={colorOf(i)}
            stroke-width="1.6"
            points={s.points
              .filter(([t]) => t >= now - span)
              .map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`)
              .join(' ')}
          />
        ))}
      </svg>
      <ul class="legend">
        {ranked.slice(0, LEGEND).map(({ s, i, last }) => (
          <li key={s.label}>
            <span class="swatch" style={{ background: colorOf(i) }} />
            {s.label} <b>{format(last)}</b>
          </li>
        ))}
        {series.length > LEGEND ? <li class="muted">and {series.length - LEGEND} more</li> : null}
        {series.length === 0 ? <li class="muted">no data yet</li> : null}
      </ul>
    </figure>
  );
}

function niceCeil(v: number): number {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}
