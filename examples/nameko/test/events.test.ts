// Nameko's events example, tested with svc's test kit.
import type { WorkerOutcome } from '@svc/core/testing';
import { entrypointHook, entrypointWaiter, testCluster, workerFactory } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { ServiceA, ServiceB } from '../services/events.js';

describe('ServiceA', () => {
  it('emits my_event_type with the payload, as itself', async () => {
    const worker = workerFactory(ServiceA);
    expect(await worker.service.emit_an_event({ payload: { x: 1 } })).toBe('emitted');
    expect(worker.emitted).toEqual([
      { type: 'my_event_type', body: { x: 1 }, options: { source: 'ServiceA' } },
    ]);
  });
});

describe('ServiceB, alone', () => {
  it('keeps what it received in its cache and forgets it on invalidation', () => {
    const cache = new Map<string, unknown>();
    const worker = workerFactory(ServiceB, { deps: { cache } });
    worker.service.handle_an_event('payload');
    expect(worker.service.last_received()).toBe('payload');
    expect(worker.logs.map((r) => r.msg)).toEqual(['service b received "payload"']);
    worker.service.invalidate_cache();
    expect(cache.size).toBe(0);
    expect(worker.service.last_received()).toBeNull();
  });
});

describe('ServiceA and two ServiceB instances', () => {
  it('delivers ServiceA’s event to one ServiceB, and a broadcast clears the cache of both', async () => {
    await using cluster = await testCluster([ServiceA, ServiceB], { replicas: { ServiceB: 2 } });
    const handlers = cluster.instances.flatMap((i) =>
      i.containers.filter((c) => c.name === 'ServiceB'),
    );
    expect(handlers).toHaveLength(2);
    const handled: WorkerOutcome[] = [];
    for (const c of handlers) {
      c.observe((o) => {
        if (o.ep.method === 'handle_an_event') handled.push(o);
      });
    }
    const lastReceived = () =>
      Promise.all(handlers.map((c) => entrypointHook(c, 'last_received')()));

    // The same event type from another source is not for this handler.
    await cluster.client.emit('my_event_type', 'from elsewhere', { source: 'Elsewhere' });
    const ran = handlers.map((c, i) => entrypointWaiter(c, 'handle_an_event').then(() => i));
    expect(await cluster.client.rpc.ServiceA.emit_an_event({ payload: 'hello' })).toBe('emitted');
    const which = await Promise.race(ran);
    expect(handled.map((o) => o.failed)).toEqual([false]);
    const cached = await lastReceived();
    expect(cached[which]).toBe('hello');
    expect(cached[1 - which]).toBeNull();

    const cleared = handlers.map((c) => entrypointWaiter(c, 'invalidate_cache'));
    await cluster.client.emit('cache_invalidated', {});
    expect((await Promise.all(cleared)).map((o) => o.failed)).toEqual([false, false]);
    expect(await lastReceived()).toEqual([null, null]);
    expect(handled).toHaveLength(1);
    expect(
      cluster.logs.filter((r) => r.msg.startsWith('service b received')).map((r) => r.msg),
    ).toEqual(['service b received "hello"']);
  });
});
