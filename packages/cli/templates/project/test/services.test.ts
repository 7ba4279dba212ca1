// The services' tests, written with svc's test kit: a method alone with
// fakes, then both services together on an in-memory cluster.
import { ValidationError } from '@svc/core';
import { entrypointWaiter, testCluster, workerFactory, type TestCluster } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { Greeting } from '../services/greeting.js';
import { Web } from '../services/web.js';

describe('Greeting', () => {
  it('greets by name and emits a greeted event', async () => {
    const worker = workerFactory(Greeting);
    expect(await worker.service.greet({ name: 'Flynne' })).toBe('Hi, Flynne!');
    expect(worker.emitted).toEqual([
      { type: 'greeted', body: { name: 'Flynne' }, options: { source: 'Greeting' } },
    ]);
  });

  it('refuses a call whose parameters do not match its schema, saying why', async () => {
    await using cluster = await testCluster([Greeting]);
    // What `svc request Greeting.greet '{"nam": 1}'` sends: no type check stops it.
    const call = cluster.client.rpc.Greeting.greet({ nam: 1 } as unknown as { name: string });
    await expect(call).rejects.toBeInstanceOf(ValidationError);
    await expect(call).rejects.toThrow(/name/);
  });
});

describe('Web', () => {
  it('asks Greeting over RPC and hears the greeted event, under one trace id', async () => {
    await using cluster = await testCluster([Greeting, Web]);
    const heard = entrypointWaiter(cluster.container('Web'), 'onGreeted');
    const res = await fetch(`${webUrl(cluster)}/greet?name=Flynne`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hi, Flynne!');
    const traceId = res.headers.get('x-trace-id');
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect((await heard).ctx.traceId).toBe(traceId);
  });

  it('answers a request without a name with a 400 that says why', async () => {
    await using cluster = await testCluster([Greeting, Web]);
    const res = await fetch(`${webUrl(cluster)}/greet`);
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error: 'query parameter "name" is required' });
  });
});

/** The HTTP address of the instance that runs Web. */
function webUrl(cluster: TestCluster): string {
  const web = cluster.instances.find((i) => i.containers.some((c) => c.name === 'Web'));
  if (!web?.httpUrl) throw new Error('no instance of the cluster serves HTTP');
  return web.httpUrl;
}
