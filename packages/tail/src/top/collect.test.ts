import type { MetricsSnapshot } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { buildSample } from './collect.js';

const snap = (time: number, greet: [number, number], fail: [number, number]): MetricsSnapshot => ({
  time,
  process: {
    pid: 1,
    uptime: 10,
    cpu: 3,
    rss: 1000,
    heapUsed: 1,
    heapTotal: 2,
    loopLag: 0.5,
    loopLagP99: 1,
  },
  entrypoints: [
    { name: 'Greeting.greet', kind: 'rpc', calls: greet[0], errors: greet[1], p50: 2, p99: 8 },
    { name: 'Greeting.fail', kind: 'rpc', calls: fail[0], errors: fail[1], p50: 4, p99: 20 },
  ],
  custom: {},
});

describe('buildSample', () => {
  it('has no rates on a first reading', () => {
    const s = buildSample(
      new Map([['a', { snapshot: snap(1000, [10, 0], [0, 0]), services: ['Greeting'] }]]),
      new Map(),
    );
    expect(s.instances[0]).toMatchObject({
      callsPerSec: undefined,
      errorsPerSec: undefined,
      p50: 2,
      p99: 8,
    });
    expect(s.entrypoints.map((e) => e.callsPerSec)).toEqual([undefined, undefined]);
  });

  it('turns two readings into per-second rates, per instance and per entrypoint', () => {
    const before = new Map([
      ['a', { snapshot: snap(1000, [10, 0], [0, 0]), services: ['Greeting'] }],
      ['b', { snapshot: snap(1000, [5, 0], [1, 1]), services: ['Greeting'] }],
    ]);
    const now = new Map([
      ['a', { snapshot: snap(3000, [30, 0], [4, 4]), services: ['Greeting'] }],
      ['b', { snapshot: snap(3000, [15, 0], [1, 1]), services: ['Greeting'] }],
    ]);
    const s = buildSample(now, before);
    const a = s.instances.find((r) => r.instance === 'a')!;
    expect(a).toMatchObject({ callsPerSec: 12, errorsPerSec: 2, cpu: 3, pid: 1, p99: 20 });
    // p50 weighted by calls: (30*2 + 4*4) / 34
    expect(a.p50).toBeCloseTo(76 / 34, 3);
    const greet = s.entrypoints.find((e) => e.name === 'Greeting.greet')!;
    expect(greet).toMatchObject({ instances: 2, callsPerSec: 15, errorsPerSec: 0, calls: 45 });
    const fail = s.entrypoints.find((e) => e.name === 'Greeting.fail')!;
    expect(fail).toMatchObject({ callsPerSec: 2, errorsPerSec: 2, errors: 5 });
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
});
