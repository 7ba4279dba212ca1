import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';
import { ConfigError } from './errors.js';
import {
  CustomMetric,
  checkMetric,
  type Counter,
  type CustomKind,
  type CustomMetricData,
  type Gauge,
  type HistogramMetric,
  type HistogramOptions,
  type MetricOptions,
} from './metrics/custom.js';
import {
  Histogram,
  LATENCY_BOUNDS_MS,
  LOOP_LAG_BOUNDS_MS,
  histogramQuantile,
  type HistogramData,
} from './metrics/histogram.js';

/** Sampling period of the event-loop delay histogram, ms; every sample includes it, so it is taken off. */
const LOOP_RESOLUTION_MS = 20;

export interface EntrypointFigures {
  /** `Greeting.greet`, `Listen.onGreeted` */
  name: string;
  kind: string;
  /** since the process started */
  calls: number;
  errors: number;
  /** latency percentiles since the process started, ms, from `latency` */
  p50: number;
  p99: number;
  /** latency histogram, ms ({@link LATENCY_BOUNDS_MS}); readers subtract two readings for an interval */
  latency: HistogramData;
}

export interface ProcessFigures {
  pid: number;
  /** seconds */
  uptime: number;
  /** seconds since the epoch */
  startTime: number;
  /**
   * CPU use, % of one core, averaged since the process started. For the
   * use over an interval, subtract two readings of `cpuUser + cpuSystem`.
   */
  cpu: number;
  /** CPU seconds spent in user code and in the kernel since the process started */
  cpuUser: number;
  cpuSystem: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** mean and 99th percentile of the event-loop delay since the process started, ms */
  loopLag: number;
  loopLagP99: number;
  /** event-loop delay histogram, ms; readers subtract two readings for an interval */
  loopLagHistogram: HistogramData;
}

export interface MetricsSnapshot {
  time: number;
  process: ProcessFigures;
  entrypoints: EntrypointFigures[];
  /** counters and gauges of the service by name (`name{label="value"}` for labelled series) */
  custom: Record<string, number>;
  /** every custom metric with its help, kind, labels and series */
  metrics: CustomMetricData[];
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * The figures `svc.get_metrics()` returns and /metrics exports: process
 * figures; per entrypoint calls, errors and a latency histogram; and the
 * services' own counters, gauges and histograms. Every figure is
 * cumulative: reading changes nothing, so any number of readers agree.
 */
export class Metrics {
  readonly #stats = new Map<
    string,
    { kind: string; calls: number; errors: number; latency: Histogram }
  >();
  readonly #custom = new Map<string, CustomMetric>();
  readonly #loop: IntervalHistogram;
  readonly #loopLag = new Histogram(LOOP_LAG_BOUNDS_MS);
  #onDropped: (metric: string) => void = () => {};

  constructor() {
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
  }

  /** Called once per metric whose label sets exceeded the bound (the instance logs it). */
  onSeriesDropped(fn: (metric: string) => void): void {
    this.#onDropped = fn;
  }

  record(name: string, kind: string, durationMs: number, failed: boolean): void {
    let s = this.#stats.get(name);
    if (!s) {
      s = { kind, calls: 0, errors: 0, latency: new Histogram(LATENCY_BOUNDS_MS) };
      this.#stats.set(name, s);
    }
    s.calls++;
    if (failed) s.errors++;
    s.latency.observe(durationMs);
  }

  /**
   * A counter of the service's own: `this.metrics.counter('orders', 'Orders placed').inc()`;
   * with labels: `counter('orders', 'Orders placed', { labels: ['status'] }).inc({ status: 'paid' })`.
   * Exported as `<name>_total`.
   */
  counter<L extends string = never>(
    name: string,
    help: string,
    options: MetricOptions<L> = {},
  ): Counter<L> {
    const m = this.#metric('counter', name, help, options.labels ?? [], undefined);
    return {
      name,
      inc: (...args) => m.add(args, 1),
      get: (...args) => m.get(args),
    };
  }

  /**
   * A gauge of the service's own: `this.metrics.gauge('queue_depth', 'Jobs waiting').set(3)`.
   * (The older `gauge(name, value)` form sets a gauge without help.)
   */
  gauge<L extends string = never>(name: string, help: string, options?: MetricOptions<L>): Gauge<L>;
  /** @deprecated write `gauge(name, help).set(value)` */
  gauge(name: string, value: number): void;
  gauge<L extends string = never>(
    name: string,
    helpOrValue: string | number,
    options: MetricOptions<L> = {},
  ): Gauge<L> | undefined {
    if (typeof helpOrValue === 'number') {
      this.#metric('gauge', name, name, [], undefined).set([helpOrValue]);
      return undefined;
    }
    const m = this.#metric('gauge', name, helpOrValue, options.labels ?? [], undefined);
    return {
      name,
      set: (...args) => m.set(args),
      inc: (...args) => m.add(args, 1),
      dec: (...args) => m.add(args, -1),
      get: (...args) => m.get(args),
    };
  }

  /**
   * A histogram of the service's own, with fixed buckets (default: 5 ms to
   * 10 s, in seconds): `this.metrics.histogram('charge_seconds', 'Card charges').observe(0.3)`.
   */
  histogram<L extends string = never>(
    name: string,
    help: string,
    options: HistogramOptions<L> = {},
  ): HistogramMetric<L> {
    const m = this.#metric('histogram', name, help, options.labels ?? [], options.buckets);
    return { name, observe: (...args) => m.set(args) };
  }

  /** Adds to a counter without help or labels (`counter(name, name).inc(by)`). */
  increment(name: string, by = 1): void {
    this.#metric('counter', name, name, [], undefined).add([by], 1);
  }

  #metric(
    kind: CustomKind,
    name: string,
    help: string,
    labels: readonly string[],
    buckets: readonly number[] | undefined,
  ): CustomMetric {
    const known = this.#custom.get(name);
    if (known) {
      if (known.kind !== kind || known.labelNames.join() !== labels.join())
        throw new ConfigError(
          `metric ${name} is already a ${known.kind} with labels [${known.labelNames.join(', ')}]`,
        );
      return known;
    }
    checkMetric(kind, name, help, labels, buckets);
    const m = new CustomMetric(kind, name, help, [...labels], buckets && [...buckets], (n) =>
      this.#onDropped(n),
    );
    this.#custom.set(name, m);
    return m;
  }

  /** Moves the event-loop samples gathered since the last call into the cumulative histogram. */
  #foldLoopLag(): void {
    const h = this.#loop;
    const n = h.count;
    if (n === 0) return;
    // The HDR histogram gives value-at-percentile points; the count at most
    // a bound is the highest percentile whose value is within it.
    const points = [...h.percentiles].sort((a, b) => a[0] - b[0]);
    let below = 0;
    LOOP_LAG_BOUNDS_MS.forEach((bound, i) => {
      const limitNs = (bound + LOOP_RESOLUTION_MS) * 1e6;
      let pct = 0;
      for (const [p, v] of points) if (v <= limitNs) pct = p;
      const upTo = Math.round((n * pct) / 100);
      if (upTo > below) {
        this.#loopLag.addAt(i, upTo - below);
        below = upTo;
      }
    });
    if (n > below) this.#loopLag.addAt(LOOP_LAG_BOUNDS_MS.length, n - below);
    this.#loopLag.sum += Math.max(0, h.mean / 1e6 - LOOP_RESOLUTION_MS) * n;
    h.reset();
  }

  /** Every figure, cumulative since the process started. Reading changes nothing a reader sees. */
  snapshot(): MetricsSnapshot {
    this.#foldLoopLag();
    const cpu = process.cpuUsage();
    const uptime = process.uptime();
    const mem = process.memoryUsage();
    const loop = this.#loopLag.data();
    const custom: Record<string, number> = {};
    const metrics = [...this.#custom.values()].map((m) => m.data());
    for (const m of metrics) {
      if (m.kind === 'histogram') continue;
      for (const s of m.series) {
        const labels = s.labels.map((v, i) => `${m.labelNames[i]}=${JSON.stringify(v)}`);
        custom[labels.length > 0 ? `${m.name}{${labels.join(',')}}` : m.name] = s.value ?? 0;
      }
    }
    return {
      time: Date.now(),
      process: {
        pid: process.pid,
        uptime: round(uptime),
        startTime: round(Date.now() / 1000 - uptime),
        cpu: round(((cpu.user + cpu.system) / 1e6 / Math.max(uptime, 0.001)) * 100),
        cpuUser: cpu.user / 1e6,
        cpuSystem: cpu.system / 1e6,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        loopLag: loop.count > 0 ? round(loop.sum / loop.count) : 0,
        loopLagP99: round(histogramQuantile(loop, 0.99)),
        loopLagHistogram: loop,
      },
      entrypoints: [...this.#stats].map(([name, s]) => {
        const latency = s.latency.data();
        return {
          name,
          kind: s.kind,
          calls: s.calls,
          errors: s.errors,
          p50: round(histogramQuantile(latency, 0.5)),
          p99: round(histogramQuantile(latency, 0.99)),
          latency,
        };
      }),
      custom,
      metrics,
    };
  }

  close(): void {
    this.#loop.disable();
  }
}
