import { describe, expect, it } from 'vitest';
import { rpc } from '../decorators.js';
import { DependencyProvider, inject } from '../dependency.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { MemoryHub } from './hub.js';
import { Instance } from '../instance.js';
import { MemorySink } from '../log/index.js';
import {
  fake,
  replaceDependencies,
  testCluster,
  testConfig,
  workerFactory,
  type Fake,
} from './index.js';

let realStarted = 0;
class RealStore extends DependencyProvider<{ get(key: string): string }> {
  override start() {
    realStarted++;
  }
  getDependency() {
    return { get: (key: string) => `real ${key}` };
  }
}

class Lookup extends Service {
  static override readonly serviceName = 'Lookup';
  declare [RPC]: 'find';
  store = inject(new RealStore());
  @rpc() find({ key }: { key: string }) {
    return this.store.get(key);
  }
}

describe('replacing dependencies', () => {
  it('gives every worker the replacement instead of what the provider would, and never starts the provider', async () => {
    const before = realStarted;
    const hub = new MemoryHub();
    const instance = new Instance({
      config: testConfig([Lookup]),
      backends: hub.connect(),
      classes: { Lookup },
      sinks: [new MemorySink()],
    });
    instance.onContainers(([container]) => {
      replaceDependencies(container!, { store: { get: (key: string) => `fake ${key}` } });
    });
    await instance.start();
    try {
      expect(
        await instance.container('Lookup').handleRpc({
          service: 'Lookup',
          method: 'find',
          params: { key: 'k' },
          headers: { traceId: 't', callIdStack: [], data: {} },
        }),
      ).toEqual({
        ok: true,
        result: 'fake k',
      });
      expect(realStarted).toBe(before);
    } finally {
      await instance.stop({ graceMs: 0 });
    }
  });

  it('records the calls made on a fake given by name, through testCluster', async () => {
    await using cluster = await testCluster([Lookup], { replace: { Lookup: ['store'] } });
    expect(await cluster.client.rpc.Lookup.find({ key: 'k' })).toBeUndefined();
    const store = cluster
      .container('Lookup')
      .providers.get('store')!
      .getDependency(undefined as never) as Fake;
    expect(store.calls).toEqual([{ path: 'get', args: ['k'] }]);
  });

  it('refuses a field that is not a dependency', async () => {
    await expect(testCluster([Lookup], { replace: { Lookup: ['nope'] } })).rejects.toThrow(
      'Lookup has no dependency field "nope"',
    );
  });
});

describe('workerFactory', () => {
  it('fills each dependency with a recording fake unless given a value', () => {
    const worker = workerFactory(Lookup);
    expect(worker.service.find({ key: 'x' })).toBeUndefined();
    expect((worker.deps['store'] as Fake).calls).toEqual([{ path: 'get', args: ['x'] }]);
    const given = workerFactory(Lookup, { deps: { store: { get: () => 'given' } } });
    expect(given.service.find({ key: 'x' })).toBe('given');
    expect(() => workerFactory(Lookup, { deps: { nope: 1 } })).toThrow(
      'Lookup has no dependency field "nope"',
    );
  });

  it('makes fakes whose nested calls are recorded by path', () => {
    const f = fake();
    ((f['a'] as Fake)['b'] as Fake)(1, 2);
    expect(f.calls).toEqual([{ path: 'a.b', args: [1, 2] }]);
  });
});
