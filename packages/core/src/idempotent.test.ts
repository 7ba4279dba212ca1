// `@rpc({ idempotent: true })`: its type, and how callers learn of it (svc.inspect and
// the registry record). What it changes on the wire is tested in rpc/failover.test.ts and
// test/production/failover.test.ts. `tsc --noEmit` compiles this file: the
// `@ts-expect-error` lines fail it if they compile again.
import { describe, expect, expectTypeOf, it } from 'vitest';
import { rpc, type RpcOptions } from './decorators.js';
import type { ServiceDescription } from './inspect.js';
import { Service } from './service.js';
import { testCluster } from './testing/index.js';
import { RPC } from './typed.js';

class Store extends Service {
  static override readonly serviceName = 'Store';
  declare [RPC]: 'get' | 'add';

  /** Reads a value: safe to run twice. */
  @rpc({ idempotent: true }) get({ key }: { key: string }) {
    return key.length;
  }

  @rpc() add({ n }: { n: number }) {
    return n + 1;
  }
}

describe('@rpc({ idempotent })', () => {
  it('takes a boolean, and nothing else', () => {
    expectTypeOf<RpcOptions['idempotent']>().toEqualTypeOf<boolean | undefined>();
    class Odd extends Service {
      static override readonly serviceName = 'Odd';
      declare [RPC]: 'm';
      // @ts-expect-error idempotent is a boolean
      @rpc({ idempotent: 'yes' }) m() {}
    }
    expect(Odd.serviceName).toBe('Odd');
  });

  it('is shown by svc.inspect and listed in the registry record for callers', async () => {
    await using cluster = await testCluster([Store]);
    const description = (await cluster.client.call('Store', 'svc.inspect')) as ServiceDescription;
    expect(description.rpc.map((m) => [m.name, m.idempotent])).toEqual([
      ['add', undefined],
      ['get', true],
    ]);
    const [record] = cluster.hub.registryStore.lookup('Store');
    expect(record?.metadata).toEqual({ idempotent: ['get'] });
  });
});
