// What docs/types.md says of worker state, checked: a new service object per
// worker, so state lives in a dependency provider or at module level.
import { describe, expect, it } from 'vitest';
import { rpc } from './decorators.js';
import { DependencyProvider, inject } from './dependency.js';
import { Service } from './service.js';
import { testCluster } from './testing/index.js';
import { RPC } from './typed.js';

class Tally extends DependencyProvider<Map<string, number>> {
  readonly #counts = new Map<string, number>();
  getDependency(): Map<string, number> {
    return this.#counts;
  }
}

const visitsInThisProcess = new Map<string, number>();

class Visits extends Service {
  static override readonly serviceName = 'Visits';
  declare [RPC]: 'onField' | 'inProvider' | 'atModuleLevel';

  count = 0;
  tally = inject(new Tally());

  @rpc() onField() {
    return ++this.count;
  }

  @rpc() inProvider({ page }: { page: string }) {
    const n = (this.tally.get(page) ?? 0) + 1;
    this.tally.set(page, n);
    return n;
  }

  @rpc() atModuleLevel({ page }: { page: string }) {
    const n = (visitsInThisProcess.get(page) ?? 0) + 1;
    visitsInThisProcess.set(page, n);
    return n;
  }
}

describe('state across workers', () => {
  it('is not kept on the service object: each call gets a new one', async () => {
    await using cluster = await testCluster([Visits]);
    const visits = cluster.client.rpc.Visits;
    expect([await visits.onField(), await visits.onField()]).toEqual([1, 1]);
  });

  it('is kept by a dependency provider, or at module level, for the life of the instance', async () => {
    await using cluster = await testCluster([Visits]);
    const visits = cluster.client.rpc.Visits;
    expect([
      await visits.inProvider({ page: 'home' }),
      await visits.inProvider({ page: 'home' }),
    ]).toEqual([1, 2]);
    expect([
      await visits.atModuleLevel({ page: 'home' }),
      await visits.atModuleLevel({ page: 'home' }),
    ]).toEqual([1, 2]);
  });
});
