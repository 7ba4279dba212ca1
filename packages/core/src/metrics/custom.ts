import { ConfigError } from '../errors.js';
import { DEFAULT_BUCKETS, Histogram, type HistogramData } from './histogram.js';

/*
 * A service's own metrics: counters, gauges and histograms, with optional
 * labels whose names are fixed when the metric is made (and checked by the
 * compiler where they are used). Made once per name: asking again for the
 * same name and kind returns the same metric, so a worker may ask on every call.
 */

/** Label values of one series, by label name. */
export type MetricLabels<L extends string> = Readonly<Record<L, string>>;

/** `inc()`'s arguments: `(by?)` without labels, `(labels, by?)` with. */
export type IncArgs<L extends string> = [L] extends [never]
  ? [by?: number]
  : [labels: MetricLabels<L>, by?: number];
/** `set()` / `observe()`'s arguments: `(value)` without labels, `(labels, value)` with. */
export type ValueArgs<L extends string> = [L] extends [never]
  ? [value: number]
  : [labels: MetricLabels<L>, value: number];
/** `get()`'s arguments: none without labels, `(labels)` with. */
export type LabelArgs<L extends string> = [L] extends [never] ? [] : [labels: MetricLabels<L>];

/** A value that only goes up (exported as `<name>_total`). */
export interface Counter<L extends string = never> {
  readonly name: string;
  inc(...args: IncArgs<L>): void;
  get(...args: LabelArgs<L>): number;
}

/** A value that goes up and down. */
export interface Gauge<L extends string = never> {
  readonly name: string;
  set(...args: ValueArgs<L>): void;
  inc(...args: IncArgs<L>): void;
  dec(...args: IncArgs<L>): void;
  get(...args: LabelArgs<L>): number;
}

/** Observations counted into fixed buckets (`<name>_bucket{le}`, `_sum`, `_count`). */
export interface HistogramMetric<L extends string = never> {
  readonly name: string;
  observe(...args: ValueArgs<L>): void;
}

export interface MetricOptions<L extends string> {
  /** label names every use gives values for */
  labels?: readonly L[];
}

export interface HistogramOptions<L extends string> extends MetricOptions<L> {
  /** upper bounds, increasing (default: 5 ms to 10 s, in seconds) */
  buckets?: readonly number[];
}

export type CustomKind = 'counter' | 'gauge' | 'histogram';

/** One series of a custom metric, as `svc.get_metrics()` returns it. */
export interface CustomSeries {
  /** label values, in the order of `labelNames` */
  labels: string[];
  /** counters and gauges */
  value?: number;
  /** histograms */
  histogram?: HistogramData;
}

/** A custom metric with every series, as `svc.get_metrics()` returns it. */
export interface CustomMetricData {
  name: string;
  help: string;
  kind: CustomKind;
  labelNames: string[];
  series: CustomSeries[];
}

/** Series kept per metric; values for label sets beyond it are dropped (a bound on memory). */
export const MAX_SERIES = 1000;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export class CustomMetric {
  readonly #series = new Map<string, { labels: string[]; value: number; histogram?: Histogram }>();
  #dropped = false;

  constructor(
    readonly kind: CustomKind,
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly buckets: readonly number[] | undefined,
    readonly onDropped: (metric: string) => void,
  ) {}

  /** The series of `labels`, made on first use; undefined once {@link MAX_SERIES} are kept. */
  #at(labels: unknown): { labels: string[]; value: number; histogram?: Histogram } | undefined {
    const values = this.#labelValues(labels);
    const key = values.join('\u0000');
    let s = this.#series.get(key);
    if (!s) {
      if (this.#series.size >= MAX_SERIES) {
        if (!this.#dropped) this.onDropped(this.name);
        this.#dropped = true;
        return undefined;
      }
      s = { labels: values, value: 0 };
      if (this.kind === 'histogram') s.histogram = new Histogram(this.buckets ?? DEFAULT_BUCKETS);
      this.#series.set(key, s);
    }
    return s;
  }

  #labelValues(labels: unknown): string[] {
    if (this.labelNames.length === 0) return [];
    const given = (labels ?? {}) as Record<string, unknown>;
    const values = this.labelNames.map((n) => given[n]);
    const keys = typeof labels === 'object' && labels !== null ? Object.keys(labels) : [];
    if (values.some((v) => typeof v !== 'string') || keys.length !== this.labelNames.length) {
      throw new ConfigError(
        `metric ${this.name}: expected string values for the labels ${this.labelNames.join(', ')}, got ${JSON.stringify(labels ?? null)}`,
      );
    }
    return values as string[];
  }

  /** `args`: `(by?)` or `(labels, by?)`, as the label names say. */
  add(args: readonly unknown[], sign: 1 | -1): void {
    const [labels, by] = this.labelNames.length === 0 ? [undefined, args[0]] : [args[0], args[1]];
    const n = by === undefined ? 1 : Number(by);
    if (!Number.isFinite(n)) return;
    if (this.kind === 'counter' && n < 0)
      throw new ConfigError(`counter ${this.name} only goes up: inc(${n})`);
    const s = this.#at(labels);
    if (s) s.value += sign * n;
  }

  set(args: readonly unknown[]): void {
    const [labels, value] =
      this.labelNames.length === 0 ? [undefined, args[0]] : [args[0], args[1]];
    const s = this.#at(labels);
    const v = Number(value);
    if (!s || !Number.isFinite(v)) return;
    if (s.histogram) s.histogram.observe(v);
    else s.value = v;
  }

  get(args: readonly unknown[]): number {
    const key = this.#labelValues(args[0]).join('\u0000');
    return this.#series.get(key)?.value ?? 0;
  }

  data(): CustomMetricData {
    return {
      name: this.name,
      help: this.help,
      kind: this.kind,
      labelNames: [...this.labelNames],
      series: [...this.#series.values()].map((s) =>
        s.histogram
          ? { labels: [...s.labels], histogram: s.histogram.data() }
          : { labels: [...s.labels], value: s.value },
      ),
    };
  }
}

/** Checks a custom metric's name, help, labels and buckets; throws a ConfigError that says what is wrong. */
export function checkMetric(
  kind: CustomKind,
  name: string,
  help: string,
  labels: readonly string[],
  buckets: readonly number[] | undefined,
): void {
  const fail = (what: string) => {
    throw new ConfigError(`${kind} ${JSON.stringify(name)}: ${what}`);
  };
  if (typeof name !== 'string' || !METRIC_NAME.test(name))
    fail('a metric name is letters, digits, "_" and ":", not starting with a digit');
  if (name.startsWith('svc_') || name.startsWith('process_') || name.startsWith('nodejs_'))
    fail("names starting with svc_, process_ or nodejs_ are svc's own");
  if (typeof help !== 'string') fail('expected a help text');
  for (const l of labels) {
    if (typeof l !== 'string' || !LABEL_NAME.test(l) || l.startsWith('__'))
      fail(`bad label name ${JSON.stringify(l)}`);
    if (kind === 'histogram' && l === 'le') fail('"le" is the bucket label of a histogram');
  }
  if (new Set(labels).size !== labels.length) fail('a label name appears twice');
  if (buckets !== undefined) {
    if (
      buckets.length === 0 ||
      buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= buckets[i - 1]!))
    )
      fail('buckets must be finite numbers in increasing order');
  }
}
