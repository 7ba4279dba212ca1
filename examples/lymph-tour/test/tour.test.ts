// Tests of the tour's services written only with svc's test kit, as a user would write them.
import { entrypointWaiter, testCluster, workerFactory } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { Greeting } from '../services/greeting.js';
import { Listen } from '../services/listen.js';
import { Web } from '../services/web.js';

describe('Greeting', () => {
  it('greets by name and emits a greeted event', () => {
    const worker = workerFactory(Greeting);
    expect(worker.service.greet({ name: 'Flynne' })).toBe('Hi, Flynne!');
    expect(worker.emitted).toEqual([
      { type: 'greeted', body: { name: 'Flynne' }, options: { source: 'Greeting' } },
    ]);
    expect(worker.logs.map((r) => r.msg)).toEqual(['Saying hi to Flynne']);
  });
});

describe('the tour cluster', () => {
  it('greets over HTTP through Greeting, and Listen hears about it with the same trace id', async () => {
    await using cluster = await testCluster([Greeting, Listen, Web]);
    const heard = entrypointWaiter(cluster.container('Listen'), 'onGreeted');
    const web = cluster.instances.find((i) => i.containers.some((c) => c.name === 'Web'))!;
    const res = await fetch(`${web.httpUrl}/greet?name=Flynne`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hi, Flynne!');
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const outcome = await heard;
    expect(outcome.ctx.traceId).toBe(traceId);
    const lines = cluster.logs.filter((r) => r.traceId === traceId).map((r) => r.msg);
    expect(lines).toEqual(
      expect.arrayContaining([
        'About to greet Flynne',
        'Saying hi to Flynne',
        'Somebody greeted Flynne',
      ]),
    );
  });

  it('answers a request without a name with a 400 that says why', async () => {
    await using cluster = await testCluster([Greeting, Web]);
    const web = cluster.instances.find((i) => i.containers.some((c) => c.name === 'Web'))!;
    const res = await fetch(`${web.httpUrl}/greet`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'query parameter "name" is required' });
  });
});
