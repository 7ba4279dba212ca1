import type { HistogramData, MetricsSnapshot } from '@svc/core';
import { LATENCY_BOUNDS_MS, Metrics } from '@svc/core/internal';
import { describe, expect, it } from 'vitest';
import { buildSample } from './collect.js';

/** A latency histogram holding `n` calls of `ms` each (on top of `base`). */
function latency(calls: Array<[n: number, ms: number]>): HistogramData {
  const counts = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  let sum = 0;
  let count = 0;
  for (const [n, ms] of calls) {
    let i = LATENCY_BOUNDS_MS.findIndex((b) => ms <= b);
    if (i < 0) i = LATENCY_BOUNDS_MS.length;
    counts[i]! += n;
    sum += n * ms;
    count += n;
  }
  return { bounds: [...LATENCY_BOUNDS_MS], counts, sum, count };
}

const snap = (
  time: number,
  greet: [calls: number, errors: number, ms?: number],
  fail: [calls: number, errors: number],
  cpuSeconds = 0.3,
): MetricsSnapshot => ({
  time,
  process: {
    pid: 1,
    uptime: 10,
    startTime: 0,
    cpu: 3,
    cpuUser: cpuSeconds,
    cpuSystem: 0,
    rss: 1000,
    heapUsed: 1,
    heapTotal: 2,
    loopLag: 0.5,
    loopLagP99: 1,
    loopLagHistogram: { bounds: [1, 10], counts: [0, 0, 0], sum: 0, count: 0 },
  },
  entrypoints: [
    {
      name: 'Greeting.greet',
      kind: 'rpc',
      calls: greet[0],
      errors: greet[1],
      p50: 0,
      p99: 0,
      latency: latency([[greet[0], greet[2] ?? 2]]),
    },
    {
      name: 'Greeting.fail',
      kind: 'rpc',
      calls: fail[0],
      errors: fail[1],
      p50: 0,
      p99: 0,
      latency: latency([[fail[0], 20]]),
    },
  ],
  custom: {},
  metrics: [],
});

describe('buildSample', () => {
  it('has no rates on a first reading, and percentiles over the life of the instance', () => {
    const s = buildSample(
      new Map([['a', { snapshot: snap(1000, [10, 0], [0, 0]), services: ['Greeting'] }]]),
      new Map(),
    );
    expect(s.instances[0]).toMatchObject({
      callsPerSec: undefined,
      errorsPerSec: undefined,
      cpu: 3,
    });
    // 10 calls of 2 ms: in the (1, 2.5] bucket.
    expect(s.instances[0]!.p50).toBeGreaterThan(1);
    expect(s.instances[0]!.p50).toBeLessThanOrEqual(2.5);
    expect(s.entrypoints.map((e) => e.callsPerSec)).toEqual([undefined, undefined]);
  });

  it('turns two readings into per-second rates and CPU use, per instance and per entrypoint', () => {
    const before = new Map([
      ['a', { snapshot: snap(1000, [10, 0], [0, 0], 1), services: ['Greeting'] }],
      ['b', { snapshot: snap(1000, [5, 0], [1, 1]), services: ['Greeting'] }],
    ]);
    const now = new Map([
      ['a', { snapshot: snap(3000, [30, 0], [4, 4], 2), services: ['Greeting'] }],
      ['b', { snapshot: snap(3000, [15, 0], [1, 1]), services: ['Greeting'] }],
    ]);
    const s = buildSample(now, before);
    const a = s.instances.find((r) => r.instance === 'a')!;
    // One CPU second in two seconds.
    expect(a).toMatchObject({ callsPerSec: 12, errorsPerSec: 2, cpu: 50, pid: 1 });
    const greet = s.entrypoints.find((e) => e.name === 'Greeting.greet')!;
    expect(greet).toMatchObject({ instances: 2, callsPerSec: 15, errorsPerSec: 0, calls: 45 });
    const fail = s.entrypoints.find((e) => e.name === 'Greeting.fail')!;
    expect(fail).toMatchObject({ callsPerSec: 2, errorsPerSec: 2, errors: 5 });
  });

  it('takes percentiles of the cluster from the merged histograms of the interval', () => {
    // a: 20 fast calls in the interval; b: 2 slow ones. Before the interval,
    // b had many slow calls, which must not count.
    const before = new Map([
      ['a', { snapshot: snap(1000, [0, 0, 0.4], [0, 0]), services: ['Greeting'] }],
      ['b', { snapshot: snap(1000, [100, 0, 400], [0, 0]), services: ['Greeting'] }],
    ]);
    const now = new Map([
      ['a', { snapshot: snap(2000, [20, 0, 0.4], [0, 0]), services: ['Greeting'] }],
      ['b', { snapshot: snap(2000, [102, 0, 400], [0, 0]), services: ['Greeting'] }],
    ]);
    const greet = buildSample(now, before).entrypoints.find((e) => e.name === 'Greeting.greet')!;
    // 22 calls: the median is a fast one (0.25..0.5 ms), the 99th a slow one (250..500 ms).
    expect(greet.p50).toBeGreaterThan(0.25);
    expect(greet.p50).toBeLessThanOrEqual(0.5);
    expect(greet.p99).toBeGreaterThan(250);
    expect(greet.p99).toBeLessThanOrEqual(500);
  });

  it('counts an entrypoint first seen in the second reading from zero', () => {
    const before = snap(1000, [0, 0], [0, 0]);
    before.entrypoints = [];
    const s = buildSample(
      new Map([['a', { snapshot: snap(2000, [3, 0], [0, 0]), services: ['Greeting'] }]]),
      new Map([['a', { snapshot: before, services: ['Greeting'] }]]),
    );
    expect(s.instances[0]!.callsPerSec).toBe(3);
    expect(s.entrypoints.find((e) => e.name === 'Greeting.greet')!.callsPerSec).toBe(3);
  });

  it('matches each entrypoint to its own previous figures by name, whatever the order, renamed or removed', () => {
    const before = snap(1000, [10, 1], [4, 4]);
    const now = snap(2000, [13, 1], [0, 0]);
    // Since the first reading: Greeting.greet moved to the end, Greeting.fail was renamed
    // Greeting.hello (new figures, counted from zero), and a new Greeting.bye came first.
    const [greet, fail] = now.entrypoints as [
      MetricsSnapshot['entrypoints'][number],
      MetricsSnapshot['entrypoints'][number],
    ];
    now.entrypoints = [
      { ...fail, name: 'Greeting.bye', calls: 2, errors: 0 },
      { ...fail, name: 'Greeting.hello', calls: 5, errors: 1 },
      greet,
    ];
    const s = buildSample(
      new Map([['a', { snapshot: now, services: ['Greeting'] }]]),
      new Map([['a', { snapshot: before, services: ['Greeting'] }]]),
    );
    const rates = Object.fromEntries(
      s.entrypoints.map((e) => [e.name, [e.callsPerSec, e.errorsPerSec, e.calls]]),
    );
    expect(rates).toEqual({
      'Greeting.bye': [2, 0, 2],
      'Greeting.hello': [5, 1, 5],
      'Greeting.greet': [3, 0, 13],
    });
    // The instance's: 20 calls and 2 errors now, against the 10 and 1 of the one entrypoint it
    // still has (the removed Greeting.fail's figures count in neither reading).
    expect(s.instances[0]).toMatchObject({ callsPerSec: 10, errorsPerSec: 1 });
  });

  it('gives two readers of one process the same CPU use: reading resets nothing', () => {
    const metrics = new Metrics();
    try {
      const read = () => ({ snapshot: metrics.snapshot(), services: ['Greeting'] });
      const cpuSeconds = (r: ReturnType<typeof read>) =>
        r.snapshot.process.cpuUser + r.snapshot.process.cpuSystem;
      const a0 = read();
      const b0 = read();
      // Spend 150 ms of CPU (not of wall time: the machine may be busy).
      const start = process.cpuUsage();
      for (;;) {
        const used = process.cpuUsage(start);
        if (used.user + used.system >= 150_000) break;
        for (let i = 0; i < 1e4; i++) Math.sqrt(i);
      }
      const b1 = read();
      const a1 = read();
      // b read just before a: a reset of a baseline would leave a almost nothing.
      expect(cpuSeconds(a1) - cpuSeconds(a0)).toBeGreaterThanOrEqual(0.15);
      expect(cpuSeconds(b1) - cpuSeconds(b0)).toBeGreaterThanOrEqual(0.15);
      const cpuOf = (now: typeof a0, before: typeof a0) =>
        buildSample(new Map([['x', now]]), new Map([['x', before]])).instances[0]!.cpu;
      const a = cpuOf(a1, a0);
      const b = cpuOf(b1, b0);
      expect(a).toBeGreaterThan(0);
      expect(Math.abs(a - b)).toBeLessThan(Math.max(a, b) * 0.5);
    } finally {
      metrics.close();
    }
  });
});
