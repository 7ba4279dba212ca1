import type { MetricsSnapshot } from '../metrics.js';
import type { HistogramData } from './histogram.js';

/*
 * The Prometheus text exposition format (version 0.0.4): per family one
 * `# HELP` and one `# TYPE` line, then its samples; histograms as
 * cumulative `_bucket{le}` lines ending with `le="+Inf"`, then `_sum` and
 * `_count`. Names follow Prometheus' conventions (base units, `_total` on
 * counters) so `promtool check metrics` finds nothing to say.
 */

/** The content type of the text format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** One process's reading and the labels that tell it apart from the others on one page. */
export interface PrometheusSource {
  labels: Readonly<Record<string, string>>;
  snapshot: MetricsSnapshot;
}

type Kind = 'counter' | 'gauge' | 'histogram';

interface Family {
  help: string;
  kind: Kind;
  lines: string[];
}

/** `\`, `"` and newlines escaped, as label values must be. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A sample value as Go's strconv parses it. */
export function formatValue(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** A bound in ms as seconds, without the float noise of a division (0.1 ms is `0.0001`, not `0.00010000000000000002`). */
function msToSeconds(ms: number): number {
  return Number((ms / 1000).toPrecision(12));
}

function labelText(labels: ReadonlyArray<readonly [string, string]>): string {
  if (labels.length === 0) return '';
  return `{${labels.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

class Page {
  readonly #families = new Map<string, Family>();

  #family(name: string, kind: Kind, help: string): Family | undefined {
    let f = this.#families.get(name);
    if (!f) this.#families.set(name, (f = { help, kind, lines: [] }));
    // The same name as another kind (two services' metrics): the first one stays.
    return f.kind === kind ? f : undefined;
  }

  sample(
    name: string,
    kind: 'counter' | 'gauge',
    help: string,
    labels: ReadonlyArray<readonly [string, string]>,
    value: number,
  ): void {
    this.#family(name, kind, help)?.lines.push(`${name}${labelText(labels)} ${formatValue(value)}`);
  }

  histogram(
    name: string,
    help: string,
    labels: ReadonlyArray<readonly [string, string]>,
    h: HistogramData,
    scale: (n: number) => number,
  ): void {
    const f = this.#family(name, 'histogram', help);
    if (!f) return;
    let cumulative = 0;
    h.bounds.forEach((bound, i) => {
      cumulative += h.counts[i] ?? 0;
      const le = labelText([...labels, ['le', formatValue(scale(bound))]]);
      f.lines.push(`${name}_bucket${le} ${formatValue(cumulative)}`);
    });
    cumulative += h.counts[h.bounds.length] ?? 0;
    f.lines.push(
      `${name}_bucket${labelText([...labels, ['le', '+Inf']])} ${formatValue(cumulative)}`,
    );
    f.lines.push(`${name}_sum${labelText(labels)} ${formatValue(scale(h.sum))}`);
    f.lines.push(`${name}_count${labelText(labels)} ${formatValue(cumulative)}`);
  }

  text(): string {
    let out = '';
    for (const [name, f] of this.#families) {
      if (f.lines.length === 0) continue;
      out += `# HELP ${name} ${escapeHelp(f.help)}\n# TYPE ${name} ${f.kind}\n`;
      out += `${f.lines.join('\n')}\n`;
    }
    return out;
  }
}

/**
 * The Prometheus text of one or more processes' readings: one instance's
 * /metrics (no labels), or the whole cluster's on `svc node`'s port (each
 * process labelled). Every histogram of a family has the same buckets in
 * every process, so PromQL may add them up (`sum by (le)`).
 */
export function renderPrometheus(sources: readonly PrometheusSource[]): string {
  const page = new Page();
  for (const { labels: own, snapshot } of sources) {
    const base = Object.entries(own);
    const p = snapshot.process;
    page.sample(
      'process_cpu_user_seconds_total',
      'counter',
      'User CPU time spent, seconds',
      base,
      p.cpuUser,
    );
    page.sample(
      'process_cpu_system_seconds_total',
      'counter',
      'System CPU time spent, seconds',
      base,
      p.cpuSystem,
    );
    page.sample(
      'process_cpu_seconds_total',
      'counter',
      'User and system CPU time spent, seconds',
      base,
      p.cpuUser + p.cpuSystem,
    );
    page.sample(
      'process_resident_memory_bytes',
      'gauge',
      'Resident memory size, bytes',
      base,
      p.rss,
    );
    page.sample(
      'process_start_time_seconds',
      'gauge',
      'Start time of the process since the Unix epoch, seconds',
      base,
      p.startTime,
    );
    page.sample('nodejs_heap_size_used_bytes', 'gauge', 'V8 heap in use, bytes', base, p.heapUsed);
    page.sample(
      'nodejs_heap_size_total_bytes',
      'gauge',
      'V8 heap allocated, bytes',
      base,
      p.heapTotal,
    );
    page.histogram(
      'svc_event_loop_lag_seconds',
      'Event-loop delay, seconds',
      base,
      p.loopLagHistogram,
      msToSeconds,
    );

    for (const ep of snapshot.entrypoints) {
      const dot = ep.name.indexOf('.');
      const labels: Array<[string, string]> = [
        ...base,
        ['service', dot > 0 ? ep.name.slice(0, dot) : ep.name],
        ['entrypoint', ep.name],
        ['kind', ep.kind],
      ];
      page.sample(
        'svc_calls_total',
        'counter',
        'Calls of an entrypoint (RPC method, event handler, HTTP route, timer)',
        labels,
        ep.calls,
      );
      page.sample(
        'svc_errors_total',
        'counter',
        'Calls of an entrypoint that failed',
        labels,
        ep.errors,
      );
      page.histogram(
        'svc_call_duration_seconds',
        'Duration of the calls of an entrypoint, seconds',
        labels,
        ep.latency,
        msToSeconds,
      );
    }

    for (const m of snapshot.metrics) {
      for (const s of m.series) {
        const labels: Array<[string, string]> = [
          ...base,
          ...s.labels.map((v, i): [string, string] => [m.labelNames[i] ?? `label${i}`, v]),
        ];
        if (m.kind === 'histogram') {
          if (s.histogram) page.histogram(m.name, m.help, labels, s.histogram, (n) => n);
        } else {
          const name =
            m.kind === 'counter' && !m.name.endsWith('_total') ? `${m.name}_total` : m.name;
          page.sample(name, m.kind, m.help, labels, s.value ?? 0);
        }
      }
    }
  }
  return page.text();
}
