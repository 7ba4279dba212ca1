import { LineChart, type Series } from '../chart.js';
import { bytes, ms, rate, short } from '../format.js';
import { useStore } from '../store.js';
import type { MetricsPoint } from '../types.js';

/** Five minutes, as the server keeps. */
const SPAN = 5 * 60 * 1000;

function seriesOf(
  history: MetricsPoint[],
  pick: (p: MetricsPoint) => Record<string, number[]>,
  index: number,
  label: (key: string) => string,
): Series[] {
  const byKey = new Map<string, Series>();
  for (const point of history) {
    for (const [key, values] of Object.entries(pick(point))) {
      let s = byKey.get(key);
      if (!s) byKey.set(key, (s = { label: label(key), points: [] }));
      s.points.push([point.time, values[index] ?? 0]);
    }
  }
  return [...byKey.values()].sort((a, b) => a.label.localeCompare(b.label));
}

/** Per entrypoint calls/s, errors/s, p50 and p99, and per instance CPU and RSS, over the last minutes. */
export function MetricsView() {
  const { history, cluster } = useStore();
  const now = history.at(-1)?.time ?? Date.now();
  const services = new Map(cluster?.instances.map((i) => [i.id, i.services.join(',')]) ?? []);
  const ep = (i: number) =>
    seriesOf(
      history,
      (p) => p.entrypoints,
      i,
      (k) => k,
    );
  const inst = (i: number) =>
    seriesOf(
      history,
      (p) => p.instances,
      i,
      (k) => `${services.get(k) ?? '?'}/${short(k)}`,
    );
  const common = { span: SPAN, now };
  return (
    <section data-view="metrics">
      <h1>Metrics</h1>
      <h2>Entrypoints</h2>
      <div class="charts">
        <LineChart title="calls/s" series={ep(0)} format={rate} {...common} />
        <LineChart title="errors/s" series={ep(1)} format={rate} {...common} />
        <LineChart title="p50 latency" series={ep(2)} format={ms} {...common} />
        <LineChart title="p99 latency" series={ep(3)} format={ms} {...common} />
      </div>
      <h2>Instances</h2>
      <div class="charts">
        <LineChart title="CPU %" series={inst(0)} format={(v) => `${v.toFixed(1)}%`} {...common} />
        <LineChart title="RSS" series={inst(1)} format={bytes} {...common} />
      </div>
      <h2>Now</h2>
      <table class="grid-table">
        <thead>
          <tr>
            <th>entrypoint</th>
            <th>kind</th>
            <th class="num">instances</th>
            <th class="num">calls/s</th>
            <th class="num">errors/s</th>
            <th class="num">calls</th>
            <th class="num">errors</th>
            <th class="num">p50</th>
            <th class="num">p99</th>
          </tr>
        </thead>
        <tbody>
          {(cluster?.entrypoints ?? []).map((e) => (
            <tr key={e.name} data-entrypoint={e.name}>
              <td class="mono">{e.name}</td>
              <td>{e.kind}</td>
              <td class="num">{e.instances}</td>
              <td class="num">{rate(e.callsPerSec)}</td>
              <td class="num">{rate(e.errorsPerSec)}</td>
              <td class="num">{e.calls}</td>
              <td class="num">{e.errors}</td>
              <td class="num">{ms(e.p50)}</td>
              <td class="num">{ms(e.p99)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
