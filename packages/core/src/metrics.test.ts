import { describe, expect, expectTypeOf, it } from 'vitest';
import { ConfigError } from './errors.js';
import { Metrics } from './metrics.js';
import type { Counter, Gauge, HistogramMetric } from './metrics/custom.js';
import { LATENCY_BOUNDS_MS, histogramQuantile, mergeHistograms } from './metrics/histogram.js';
import { renderPrometheus } from './metrics/prometheus.js';

function withMetrics(fn: (m: Metrics) => void): void {
  const m = new Metrics();
  try {
    fn(m);
  } finally {
    m.close();
  }
}

describe('Metrics', () => {
  it('counts calls, errors and latencies per entrypoint into fixed buckets', () => {
    withMetrics((m) => {
      for (let i = 0; i < 98; i++) m.record('Greeting.greet', 'rpc', 0.3, false);
      m.record('Greeting.greet', 'rpc', 300, true);
      m.record('Greeting.greet', 'rpc', 300, false);
      const [greet] = m.snapshot().entrypoints;
      expect(greet).toMatchObject({ name: 'Greeting.greet', kind: 'rpc', calls: 100, errors: 1 });
      expect(greet!.latency.bounds).toEqual(LATENCY_BOUNDS_MS);
      expect(greet!.latency.count).toBe(100);
      expect(greet!.latency.sum).toBeCloseTo(98 * 0.3 + 600);
      expect(greet!.p50).toBeGreaterThan(0.25);
      expect(greet!.p50).toBeLessThanOrEqual(0.5);
      expect(greet!.p99).toBeGreaterThan(250);
    });
  });

  it('changes nothing when read: every reader sees the same cumulative figures', () => {
    withMetrics((m) => {
      m.record('A.a', 'rpc', 1, false);
      const first = m.snapshot();
      const second = m.snapshot();
      expect(second.entrypoints).toEqual(first.entrypoints);
      expect(second.process.cpuUser).toBeGreaterThanOrEqual(first.process.cpuUser);
      expect(second.process.loopLagHistogram.count).toBeGreaterThanOrEqual(
        first.process.loopLagHistogram.count,
      );
    });
  });

  it('keeps counters, gauges and histograms of a service, with labels', () => {
    withMetrics((m) => {
      m.counter('orders', 'Orders placed').inc();
      m.counter('orders', 'Orders placed').inc(2);
      const paid = m.counter('payments', 'Payments', { labels: ['status'] });
      paid.inc({ status: 'ok' });
      paid.inc({ status: 'declined' }, 3);
      const depth = m.gauge('queue_depth', 'Jobs waiting');
      depth.set(5);
      depth.dec();
      m.histogram('charge_seconds', 'Card charges', { buckets: [0.1, 1] }).observe(0.5);
      m.increment('ticks');
      expect(m.counter('orders', 'Orders placed').get()).toBe(3);
      expect(paid.get({ status: 'declined' })).toBe(3);
      const snap = m.snapshot();
      expect(snap.custom).toEqual({
        orders: 3,
        'payments{status="ok"}': 1,
        'payments{status="declined"}': 3,
        queue_depth: 4,
        ticks: 1,
      });
      expect(snap.metrics.find((x) => x.name === 'charge_seconds')).toEqual({
        name: 'charge_seconds',
        help: 'Card charges',
        kind: 'histogram',
        labelNames: [],
        series: [
          { labels: [], histogram: { bounds: [0.1, 1], counts: [0, 1, 0], sum: 0.5, count: 1 } },
        ],
      });
    });
  });

  it('refuses bad names, a name reused as another kind, and wrong labels, with a clear error', () => {
    withMetrics((m) => {
      expect(() => m.counter('1bad', 'x')).toThrow(ConfigError);
      expect(() => m.counter('svc_calls', 'x')).toThrow(/svc's own/);
      expect(() => m.histogram('h', 'x', { labels: ['le'] })).toThrow(/bucket label/);
      expect(() => m.histogram('h', 'x', { buckets: [2, 1] })).toThrow(/increasing/);
      m.counter('jobs', 'Jobs');
      expect(() => m.gauge('jobs', 'Jobs')).toThrow(/already a counter/);
      expect(() => m.counter('jobs', 'Jobs').inc(-1)).toThrow(/only goes up/);
      const c = m.counter('by_kind', 'x', { labels: ['kind'] });
      expect(() => (c.inc as (l: unknown) => void)({ other: 'a' })).toThrow(/labels kind/);
    });
  });

  it('keeps at most 1000 label sets per metric and says so once', () => {
    withMetrics((m) => {
      const dropped: string[] = [];
      m.onSeriesDropped((name) => dropped.push(name));
      const c = m.counter('per_user', 'x', { labels: ['user'] });
      for (let i = 0; i < 1100; i++) c.inc({ user: String(i) });
      expect(m.snapshot().metrics[0]!.series).toHaveLength(1000);
      expect(dropped).toEqual(['per_user']);
    });
  });

  it('types label names: inc/set/observe take labels exactly when the metric has them', () => {
    withMetrics((m) => {
      const plain = m.counter('a', 'a');
      const labelled = m.counter('b', 'b', { labels: ['status', 'method'] });
      expectTypeOf(plain).toEqualTypeOf<Counter>();
      expectTypeOf(labelled).toEqualTypeOf<Counter<'status' | 'method'>>();
      expectTypeOf(m.gauge('g', 'g')).toEqualTypeOf<Gauge>();
      expectTypeOf(m.histogram('h', 'h', { labels: ['x'] })).toEqualTypeOf<HistogramMetric<'x'>>();
      plain.inc();
      plain.inc(2);
      labelled.inc({ status: 'ok', method: 'GET' });
      labelled.inc({ status: 'ok', method: 'GET' }, 2);
      // @ts-expect-error a labelled counter needs its labels
      expect(() => labelled.inc()).toThrow(ConfigError);
      // @ts-expect-error every label name
      expect(() => labelled.inc({ status: 'ok' })).toThrow(ConfigError);
      // @ts-expect-error no labels on a metric that has none
      plain.inc({ status: 'ok' });
      // @ts-expect-error a gauge's set takes a value
      m.gauge('g', 'g').set();
    });
  });
});

describe('histograms', () => {
  it('merge bucket by bucket, and the quantile of the sum is the cluster quantile', () => {
    const bounds = [1, 10, 100];
    const fast = { bounds, counts: [90, 0, 0, 0], sum: 45, count: 90 };
    const slow = { bounds, counts: [0, 0, 10, 0], sum: 500, count: 10 };
    const all = mergeHistograms([fast, slow])!;
    expect(all).toEqual({ bounds, counts: [90, 0, 10, 0], sum: 545, count: 100 });
    expect(histogramQuantile(all, 0.5)).toBeLessThanOrEqual(1);
    expect(histogramQuantile(all, 0.95)).toBeGreaterThan(10);
    // Overflow: the highest finite bound, as Prometheus answers.
    expect(histogramQuantile({ bounds, counts: [0, 0, 0, 5], sum: 1e4, count: 5 }, 0.5)).toBe(100);
    expect(histogramQuantile({ bounds, counts: [0, 0, 0, 0], sum: 0, count: 0 }, 0.5)).toBe(0);
  });
});

describe('renderPrometheus', () => {
  it('writes HELP and TYPE once per family, cumulative buckets up to +Inf, _sum and _count, and escapes label values', () => {
    withMetrics((m) => {
      m.record('Web.greet', 'http', 2, false);
      m.record('Web.greet', 'http', 20, true);
      m.counter('hits', 'Hits\nby "path"', { labels: ['path'] }).inc({ path: 'a"b\\c\nd' });
      const snapshot = m.snapshot();
      const text = renderPrometheus([
        { labels: { node_instance: 'Web', node_index: '0' }, snapshot },
        { labels: { node_instance: 'Web', node_index: '1' }, snapshot },
      ]);
      const lines = text.trimEnd().split('\n');
      expect(lines.filter((l) => l === '# TYPE svc_calls_total counter')).toHaveLength(1);
      expect(lines).toContain(
        'svc_calls_total{node_instance="Web",node_index="1",service="Web",entrypoint="Web.greet",kind="http"} 2',
      );
      expect(lines).toContain(
        'svc_errors_total{node_instance="Web",node_index="0",service="Web",entrypoint="Web.greet",kind="http"} 1',
      );
      const ep =
        'node_instance="Web",node_index="0",service="Web",entrypoint="Web.greet",kind="http"';
      expect(lines).toContain(`svc_call_duration_seconds_bucket{${ep},le="0.0001"} 0`);
      expect(lines).toContain(`svc_call_duration_seconds_bucket{${ep},le="0.0025"} 1`);
      expect(lines).toContain(`svc_call_duration_seconds_bucket{${ep},le="0.025"} 2`);
      expect(lines).toContain(`svc_call_duration_seconds_bucket{${ep},le="+Inf"} 2`);
      expect(lines).toContain(`svc_call_duration_seconds_sum{${ep}} 0.022`);
      expect(lines).toContain(`svc_call_duration_seconds_count{${ep}} 2`);
      expect(lines).toContain('# HELP hits_total Hits\\nby "path"');
      expect(lines).toContain('# TYPE hits_total counter');
      expect(lines).toContain(
        'hits_total{node_instance="Web",node_index="0",path="a\\"b\\\\c\\nd"} 1',
      );
      expect(lines).toContain('# TYPE svc_event_loop_lag_seconds histogram');
      expect(lines).toContain('# TYPE process_cpu_seconds_total counter');
      // Buckets of one series never go down.
      const buckets = lines
        .filter((l) => l.startsWith(`svc_call_duration_seconds_bucket{${ep},`))
        .map((l) => Number(l.split(' ')[1]));
      expect(buckets).toEqual([...buckets].sort((a, b) => a - b));
      expect(buckets).toHaveLength(LATENCY_BOUNDS_MS.length + 1);
    });
  });
});
