// Nameko's timer example, tested with svc's test kit.
import type { MetricsSnapshot } from '@svc/core';
import { entrypointWaiter, testCluster, workerFactory } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { Ticker } from '../services/timer.js';

describe('ticker', () => {
  it('counts each run in the ticks metric and logs it', () => {
    const worker = workerFactory(Ticker);
    worker.service.ping();
    worker.service.ping();
    expect(worker.service.metrics.snapshot().custom).toEqual({ ticks: 2 });
    expect(worker.logs.map((r) => r.msg)).toEqual(['tick', 'tick']);
  });

  it('runs on its own once started, and svc.get_metrics reports the ticks', async () => {
    await using cluster = await testCluster([Ticker]);
    const ran = await entrypointWaiter(cluster.container('ticker'), 'ping');
    expect(ran.failed).toBe(false);
    expect(ran.ctx.kind).toBe('timer');
    const metrics = (await cluster.client.call('ticker', 'svc.get_metrics')) as MetricsSnapshot;
    expect(metrics.custom['ticks']).toBeGreaterThanOrEqual(1);
    expect(metrics.entrypoints).toContainEqual(
      expect.objectContaining({ name: 'ticker.ping', kind: 'timer', errors: 0 }),
    );
  });
});
