import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

const RESERVOIR = 1024;
/** Sampling period of the event-loop delay histogram, ms; every sample includes it, so it is taken off. */
const LOOP_RESOLUTION_MS = 20;

/** Calls, errors and recent latencies of one entrypoint. */
class EntrypointStats {
  calls = 0;
  errors = 0;
  readonly #latencies = new Float64Array(RESERVOIR);
  #n = 0;

  record(durationMs: number, failed: boolean): void {
    this.calls++;
    if (failed) this.errors++;
    this.#latencies[this.#n++ % RESERVOIR] = durationMs;
  }

  percentiles(): { p50: number; p99: number } {
    const n = Math.min(this.#n, RESERVOIR);
    if (n === 0) return { p50: 0, p99: 0 };
    const sorted = Array.from(this.#latencies.subarray(0, n)).sort((a, b) => a - b);
    const at = (q: number) => round(sorted[Math.min(n - 1, Math.floor(q * n))]!);
    return { p50: at(0.5), p99: at(0.99) };
  }
}

export interface EntrypointFigures {
  /** `Greeting.greet`, `Listen.onGreeted` */
  name: string;
  kind: string;
  calls: number;
  errors: number;
  p50: number;
  p99: number;
}

export interface ProcessFigures {
  pid: number;
  uptime: number;
  /** CPU use since the previous reading, % of one core */
  cpu: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  /** event-loop delay, ms */
  loopLag: number;
  loopLagP99: number;
}

export interface MetricsSnapshot {
  time: number;
  process: ProcessFigures;
  entrypoints: EntrypointFigures[];
  custom: Record<string, number>;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

/**
 * The figures `svc.get_metrics()` returns: process figures and, per
 * entrypoint, calls, errors and latency percentiles. Custom counters and
 * gauges may be set by services.
 */
export class Metrics {
  readonly #stats = new Map<string, { kind: string; stats: EntrypointStats }>();
  readonly #custom = new Map<string, number>();
  readonly #loop: IntervalHistogram;
  #lastCpu = process.cpuUsage();
  #lastAt = performance.now();

  constructor() {
    this.#loop = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
    this.#loop.enable();
  }

  record(name: string, kind: string, durationMs: number, failed: boolean): void {
    let entry = this.#stats.get(name);
    if (!entry) this.#stats.set(name, (entry = { kind, stats: new EntrypointStats() }));
    entry.stats.record(durationMs, failed);
  }

  /** Adds to a custom counter. */
  increment(name: string, by = 1): void {
    this.#custom.set(name, (this.#custom.get(name) ?? 0) + by);
  }

  /** Sets a custom gauge. */
  gauge(name: string, value: number): void {
    this.#custom.set(name, value);
  }

  snapshot(): MetricsSnapshot {
    const now = performance.now();
    const cpu = process.cpuUsage(this.#lastCpu);
    const elapsedMs = Math.max(1, now - this.#lastAt);
    this.#lastCpu = process.cpuUsage();
    this.#lastAt = now;
    const mem = process.memoryUsage();
    const lag = this.#loop.count > 0 ? Math.max(0, this.#loop.mean / 1e6 - LOOP_RESOLUTION_MS) : 0;
    const lagP99 =
      this.#loop.count > 0 ? Math.max(0, this.#loop.percentile(99) / 1e6 - LOOP_RESOLUTION_MS) : 0;
    this.#loop.reset();
    return {
      time: Date.now(),
      process: {
        pid: process.pid,
        uptime: round(process.uptime()),
        cpu: round(((cpu.user + cpu.system) / 1000 / elapsedMs) * 100),
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        loopLag: round(lag),
        loopLagP99: round(lagP99),
      },
      entrypoints: [...this.#stats].map(([name, { kind, stats }]) => ({
        name,
        kind,
        calls: stats.calls,
        errors: stats.errors,
        ...stats.percentiles(),
      })),
      custom: Object.fromEntries(this.#custom),
    };
  }

  close(): void {
    this.#loop.disable();
  }
}
