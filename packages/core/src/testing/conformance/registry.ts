import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceRecord, Registry } from '../../registry/registry.js';
import { closedAfterEach, eventually, makeRecord, uniqueName } from './util.js';

export interface RegistryFactory {
  /** A new client of one shared cluster: two clients made by one factory see each other. */
  create(): Promise<Registry>;
}

/**
 * The behaviour every Registry backend shares. Run it against each backend:
 * `describeRegistry('local', { create: ... })`.
 */
export function describeRegistry(name: string, factory: RegistryFactory): void {
  describe(`Registry conformance: ${name}`, () => {
    const client = closedAfterEach(
      afterEach,
      () => factory.create(),
      (r) => r.close(),
    );

    it('finds a registered instance with every field it was given', async () => {
      const r = await client();
      const service = uniqueName('Svc');
      const record = makeRecord(service, {
        endpoints: { rpc: 'tcp://127.0.0.1:1234', logs: 'tcp://127.0.0.1:1235' },
        subscriptions: [{ type: 'greeted', mode: 'pool', handler: 'onGreeted' }],
        version: '1.2.3',
        metadata: { zone: 'a' },
      });
      await r.register(record);
      expect(await r.lookup(service)).toEqual([record]);
    });

    it('shows an instance to another client of the same cluster', async () => {
      const a = await client();
      const b = await client();
      const service = uniqueName('Svc');
      const record = makeRecord(service);
      await a.register(record);
      expect(await eventually(async () => (await b.lookup(service)).length === 1)).toBe(true);
      expect((await b.lookup(service))[0]?.id).toBe(record.id);
    });

    it('returns nothing for a service nobody registered', async () => {
      const r = await client();
      expect(await r.lookup(uniqueName('Nobody'))).toEqual([]);
    });

    it('forgets an unregistered instance and shrugs at unregistering twice', async () => {
      const a = await client();
      const b = await client();
      const service = uniqueName('Svc');
      const one = makeRecord(service);
      const two = makeRecord(service);
      await a.register(one);
      await a.register(two);
      await a.unregister(service, one.id);
      await a.unregister(service, one.id);
      expect(
        await eventually(async () => {
          const ids = (await b.lookup(service)).map((x) => x.id);
          return ids.length === 1 && ids[0] === two.id;
        }),
      ).toBe(true);
    });

    it('replaces a record registered again under the same id', async () => {
      const r = await client();
      const service = uniqueName('Svc');
      const record = makeRecord(service);
      await r.register(record);
      await r.register({ ...record, endpoints: { rpc: 'tcp://127.0.0.1:9' } });
      const found = await r.lookup(service);
      expect(found).toHaveLength(1);
      expect(found[0]?.endpoints).toEqual({ rpc: 'tcp://127.0.0.1:9' });
    });

    it('lists the instances of every service', async () => {
      const r = await client();
      const s1 = uniqueName('A');
      const s2 = uniqueName('B');
      const a = makeRecord(s1);
      const b = makeRecord(s2);
      await r.register(a);
      await r.register(b);
      const ids = (await r.list()).map((x) => x.id);
      expect(ids).toEqual(expect.arrayContaining([a.id, b.id]));
    });

    it('tells a watcher about instances that come and go within a second', async () => {
      const a = await client();
      const b = await client();
      const service = uniqueName('Svc');
      const seen: InstanceRecord[][] = [];
      const stop = b.watch(service, (records) => seen.push(records));
      try {
        expect(await eventually(() => seen.length >= 1, 1500)).toBe(true);
        expect(seen[seen.length - 1]).toEqual([]);
        const record = makeRecord(service);
        await a.register(record);
        expect(await eventually(() => seen.at(-1)?.[0]?.id === record.id, 1500)).toBe(true);
        await a.unregister(service, record.id);
        expect(await eventually(() => seen.at(-1)?.length === 0, 1500)).toBe(true);
      } finally {
        stop();
      }
    });

    it('stops calling a watcher once it unsubscribes', async () => {
      const a = await client();
      const service = uniqueName('Svc');
      let calls = 0;
      const stop = a.watch(service, () => calls++);
      expect(await eventually(() => calls >= 1, 1500)).toBe(true);
      stop();
      const before = calls;
      await a.register(makeRecord(service));
      await new Promise((r) => setTimeout(r, 1200));
      expect(calls).toBe(before);
    });

    it('drops the instances of a client that closes', async () => {
      const a = await factory.create();
      const b = await client();
      const service = uniqueName('Svc');
      await a.register(makeRecord(service));
      expect(await eventually(async () => (await b.lookup(service)).length === 1)).toBe(true);
      await a.close();
      expect(await eventually(async () => (await b.lookup(service)).length === 0)).toBe(true);
    });
  });
}
