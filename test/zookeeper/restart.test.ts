import { afterEach, describe, expect, it } from 'vitest';
import { createRegistry, type InstanceRecord, type Registry } from '@svc/core';
import { eventually, makeRecord, uniqueName } from '@svc/core/testing/conformance';
import {
  context,
  ensureZooKeeper,
  type LogLine,
  memoryLogger,
  PrivateZooKeeper,
} from './helpers.js';

const open: Registry[] = [];
afterEach(async () => {
  await Promise.allSettled(open.splice(0).map((r) => r.close()));
});

/**
 * Runs `test` against a ZooKeeper server of its own (never the shared one;
 * installed when missing), with registry clients whose logs, and the
 * server's, make up `story()` for a failure's message; stops it all after.
 */
async function withPrivateZooKeeper(
  sessionTimeoutMs: number,
  test: (env: {
    zk: PrivateZooKeeper;
    client: (name: string) => Promise<Registry>;
    story: () => string;
  }) => Promise<void>,
): Promise<void> {
  ensureZooKeeper();
  const zk = new PrivateZooKeeper();
  const logs: Record<string, LogLine[]> = {};
  const story = () => JSON.stringify({ clients: logs, server: zk.logTail() }, null, 1);
  try {
    await zk.start();
    const url = `zookeeper://${zk.connectString}/svc?sessionTimeout=${sessionTimeoutMs}&timeout=1500`;
    const client = async (name: string) => {
      const log = memoryLogger();
      logs[name] = log.lines;
      const r = await createRegistry(url, context(log));
      open.push(r);
      return r;
    };
    await test({ zk, client, story });
  } finally {
    await Promise.allSettled(open.splice(0).map((r) => r.close()));
    await zk.dispose();
  }
}

describe('ZooKeeper registry across a ZooKeeper restart', () => {
  it('keeps working through an outage and shows its instances again afterwards', async () => {
    await withPrivateZooKeeper(20_000, async ({ zk, client, story }) => {
      const a = await client('a');
      const b = await client('b');
      const service = uniqueName('Restarted');
      const record = makeRecord(service);
      const leaving = makeRecord(service);
      await a.register(record);
      await a.register(leaving);
      const seenByB: InstanceRecord[][] = [];
      b.watch(service, (records) => seenByB.push(records));
      expect(await eventually(() => seenByB.at(-1)?.length === 2)).toBe(true);

      await zk.stop();

      // During the outage: calls that need the server fail with a clear error, nothing crashes,
      // and lookups of a watched service answer from the cache.
      await expect(a.lookup(uniqueName('Unseen'))).rejects.toMatchObject({
        code: 'SVC_ERR_BACKEND',
      });
      await expect(a.register(makeRecord(uniqueName('Late')))).rejects.toMatchObject({
        code: 'SVC_ERR_BACKEND',
      });
      // An unregister that fails now is done once the connection is back.
      await expect(a.unregister(service, leaving.id)).rejects.toMatchObject({
        code: 'SVC_ERR_BACKEND',
      });
      expect((await b.lookup(service)).map((r) => r.id).sort()).toEqual(
        [record.id, leaving.id].sort(),
      );

      await zk.start();

      const c = await client('c');
      expect(
        await eventually(async () => {
          const ids = (await c.lookup(service)).map((r) => r.id);
          return ids.length === 1 && ids[0] === record.id;
        }, 10_000),
        story(),
      ).toBe(true);
      // Both old clients are connected again: A registers, B's watch hears of it.
      const second = makeRecord(service);
      const registered = await eventually(async () => {
        try {
          await a.register(second);
          return true;
        } catch {
          return false;
        }
      }, 20_000);
      expect(registered, story()).toBe(true);
      expect(
        await eventually(() => {
          const ids = (seenByB.at(-1) ?? []).map((r) => r.id);
          return ids.length === 2 && ids.includes(record.id) && ids.includes(second.id);
        }, 10_000),
        story(),
      ).toBe(true);
    });
  });

  it('registers its instances again when ZooKeeper comes back without its data', async () => {
    // The server refuses the old session of a client that saw newer data than it now has:
    // the registry must give up on it after a session timeout and start a new one.
    await withPrivateZooKeeper(3000, async ({ zk, client, story }) => {
      const a = await client('a');
      const b = await client('b');
      const service = uniqueName('Amnesia');
      const record = makeRecord(service);
      await a.register(record);
      const seenByB: InstanceRecord[][] = [];
      b.watch(service, (records) => seenByB.push(records));
      expect(await eventually(() => seenByB.at(-1)?.[0]?.id === record.id)).toBe(true);

      await zk.stop();
      zk.wipe();
      await zk.start();

      const c = await client('c');
      expect(
        await eventually(async () => (await c.lookup(service))[0]?.id === record.id, 20_000),
        story(),
      ).toBe(true);
      // B's watch was re-armed in its new session: it hears of a new instance.
      const second = makeRecord(service);
      await c.register(second);
      expect(
        await eventually(() => (seenByB.at(-1) ?? []).some((r) => r.id === second.id), 10_000),
        story(),
      ).toBe(true);
    });
  });
});
