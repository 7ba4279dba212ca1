/*
 * Fixed-bucket histograms: the same upper bounds in every process, so the
 * readings of many instances add up bucket by bucket (in `svc top`, in the
 * cluster's /metrics of `svc node`, in PromQL's `sum by (le)`), and a
 * percentile of the cluster comes from the sum, never from per-instance
 * percentiles. Counts only grow: a reader keeps its previous reading and
 * subtracts, so any number of readers see the same figures.
 */

/**
 * Upper bounds of the latency buckets of every entrypoint, in milliseconds
 * (exported in seconds). Fixed: changing them splits a cluster's histograms.
 */
export const LATENCY_BOUNDS_MS: readonly number[] = Object.freeze([
  0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000,
]);

/** Upper bounds of the event-loop lag buckets, ms. */
export const LOOP_LAG_BOUNDS_MS: readonly number[] = Object.freeze([
  1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500,
]);

/** Default buckets of a service's own histograms (Prometheus' client defaults). */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
]);

/**
 * A histogram as it travels in `svc.get_metrics()`: `counts[i]` observations
 * were at most `bounds[i]` and more than `bounds[i - 1]`; the last count,
 * one more than there are bounds, is the overflow (`+Inf`). Cumulative since
 * the process started.
 */
export interface HistogramData {
  bounds: number[];
  counts: number[];
  sum: number;
  count: number;
}

/** Counts observations into fixed buckets. */
export class Histogram {
  readonly bounds: readonly number[];
  readonly counts: Float64Array;
  sum = 0;
  count = 0;

  constructor(bounds: readonly number[]) {
    this.bounds = bounds;
    this.counts = new Float64Array(bounds.length + 1);
  }

  observe(value: number): void {
    if (!Number.isFinite(value)) return;
    this.counts[bucketOf(this.bounds, value)]!++;
    this.sum += value;
    this.count++;
  }

  /** Adds `n` observations to bucket `index` whose values are counted in `sum` by the caller. */
  addAt(index: number, n: number): void {
    this.counts[index]! += n;
    this.count += n;
  }

  data(): HistogramData {
    return {
      bounds: [...this.bounds],
      counts: Array.from(this.counts),
      sum: this.sum,
      count: this.count,
    };
  }
}

function bucketOf(bounds: readonly number[], value: number): number {
  // Binary search: the first bound >= value, or the overflow bucket.
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (value <= bounds[mid]!) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** True when `value` looks like {@link HistogramData} with consistent lengths (it may come off the wire). */
export function isHistogramData(value: unknown): value is HistogramData {
  const h = value as HistogramData | undefined;
  return (
    typeof h === 'object' &&
    h !== null &&
    Array.isArray(h.bounds) &&
    Array.isArray(h.counts) &&
    h.counts.length === h.bounds.length + 1 &&
    typeof h.sum === 'number' &&
    typeof h.count === 'number'
  );
}

function sameBounds(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * Adds histograms bucket by bucket. Those whose bounds differ from the
 * first one's are left out (an instance of another svc version, say): a
 * sum over different buckets would be no histogram at all.
 */
export function mergeHistograms(list: readonly HistogramData[]): HistogramData | undefined {
  const first = list[0];
  if (!first) return undefined;
  const out: HistogramData = {
    bounds: [...first.bounds],
    counts: new Array<number>(first.counts.length).fill(0),
    sum: 0,
    count: 0,
  };
  for (const h of list) {
    if (!sameBounds(h.bounds, out.bounds)) continue;
    h.counts.forEach((c, i) => (out.counts[i]! += c));
    out.sum += h.sum;
    out.count += h.count;
  }
  return out;
}

/**
 * `now - before`, bucket by bucket: the observations between two readings
 * of one process. A process that restarted in between (fewer observations
 * than before) counts from zero, as Prometheus' `rate()` does.
 */
export function subtractHistograms(
  now: HistogramData,
  before: HistogramData | undefined,
): HistogramData {
  if (!before || !sameBounds(now.bounds, before.bounds) || now.count < before.count) return now;
  return {
    bounds: now.bounds,
    counts: now.counts.map((c, i) => Math.max(0, c - (before.counts[i] ?? 0))),
    sum: Math.max(0, now.sum - before.sum),
    count: now.count - before.count,
  };
}

/**
 * The `q` quantile (0..1) of a histogram, interpolated linearly inside its
 * bucket as Prometheus' `histogram_quantile` does; the highest finite bound
 * when it falls in the overflow bucket; 0 with no observations.
 */
export function histogramQuantile(h: HistogramData, q: number): number {
  const total = h.counts.reduce((a, b) => a + b, 0);
  if (total <= 0) return 0;
  const rank = Math.min(1, Math.max(0, q)) * total;
  let seen = 0;
  for (let i = 0; i < h.counts.length; i++) {
    const c = h.counts[i]!;
    if (c > 0 && seen + c >= rank) {
      if (i >= h.bounds.length) return h.bounds[h.bounds.length - 1] ?? 0;
      const lower = i === 0 ? 0 : h.bounds[i - 1]!;
      const upper = h.bounds[i]!;
      return lower + (upper - lower) * ((rank - seen) / c);
    }
    seen += c;
  }
  return h.bounds[h.bounds.length - 1] ?? 0;
}
