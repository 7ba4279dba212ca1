import { describe, expect, it } from 'vitest';
import zookeeper from 'node-zookeeper-client';
import { createRegistry, type InstanceRecord, type Registry } from '@svc/core';
import { eventually, makeRecord, uniqueName } from '@svc/core/testing/conformance';
import { closeSessionOf, context, memoryLogger, registeringProcess } from './helpers.js';
import { useSharedZooKeeper } from './shared-zookeeper.js';

const zk = useSharedZooKeeper();
const { root, url, registry } = zk;

interface Credentials {
  id: Buffer;
  password: Buffer;
}

function credentialsOf(r: Registry): Credentials {
  const get = (r as Partial<{ sessionCredentials(): Credentials }>).sessionCredentials;
  if (!get) throw new Error('not a ZooKeeper registry');
  return get.call(r);
}

function ownerOf(path: string): Promise<Buffer | undefined> {
  return new Promise((resolve) => zk.raw.exists(path, (e, stat) => resolve(stat?.ephemeralOwner)));
}

function create(path: string, data: Buffer, mode: number): Promise<void> {
  return new Promise((resolve, reject) =>
    zk.raw.create(path, data, mode, (e) => (e ? reject(new Error(e.toString())) : resolve())),
  );
}

/** Expires a registry's session from outside and waits until the registry has a new one. */
async function forceExpiry(r: Registry): Promise<void> {
  const before = credentialsOf(r);
  // Tries again until the server confirms (see closeSessionOf), for 20 s of the test's 60.
  await closeSessionOf(2181, before.id, before.password, { timeoutMs: 20_000 });
  // The registry learns of it when the server drops its connection and it reconnects.
  if (!(await eventually(() => !credentialsOf(r).id.equals(before.id), 15_000)))
    throw new Error('the registry did not notice that its session expired');
}

describe('ZooKeeper registry sessions', () => {
  it('registers every instance again and re-arms watches after its session expired', async () => {
    const log = memoryLogger();
    // A short session: the registry may need up to this long to see that the server dropped it.
    const a = await registry(`${url}?sessionTimeout=4000`, log);
    const b = await registry();
    const service = uniqueName('Expiring');
    const record = makeRecord(service);
    await a.register(record);
    const seenByA: InstanceRecord[][] = [];
    const stop = a.watch(service, (records) => seenByA.push(records));
    expect(await eventually(() => seenByA.at(-1)?.length === 1)).toBe(true);
    const oldSession = credentialsOf(a).id;

    await forceExpiry(a);

    const path = `${root}/services/${service}/${record.id}`;
    // The node is back, owned by the new session: written again, not left over.
    expect(
      await eventually(async () => (await ownerOf(path))?.equals(credentialsOf(a).id) === true),
    ).toBe(true);
    expect((await ownerOf(path))?.equals(oldSession)).toBe(false);
    expect(await eventually(async () => (await b.lookup(service))[0]?.id === record.id)).toBe(true);
    expect(log.lines.some((l) => l.level === 'warn' && /session expired/.test(l.msg))).toBe(true);
    // Connected and its records written again: it can serve (the instance's /readyz).
    expect(typeof a.unavailable).toBe('function');
    expect(await eventually(() => a.unavailable?.() === undefined)).toBe(true);

    // A's watch lives on in the new session.
    const other = makeRecord(service);
    await b.register(other);
    expect(
      await eventually(() => {
        const ids = (seenByA.at(-1) ?? []).map((r) => r.id);
        return ids.includes(record.id) && ids.includes(other.id);
      }),
    ).toBe(true);
    stop();
  });

  it('ignores nodes whose data is not an instance record', async () => {
    const log = memoryLogger();
    const r = await registry(url, log);
    const service = uniqueName('Malformed');
    const good = makeRecord(service);
    await r.register(good);
    const dir = `${root}/services/${service}`;
    const persistent = zookeeper.CreateMode.PERSISTENT;
    const wrongId = JSON.stringify(makeRecord(service));
    await create(`${dir}/not-json`, Buffer.from('{"id": nope'), persistent);
    await create(`${dir}/empty`, Buffer.alloc(0), persistent);
    await create(`${dir}/array`, Buffer.from('[1,2,3]'), persistent);
    await create(`${dir}/wrong-id`, Buffer.from(wrongId), persistent);
    await create(
      `${dir}/proto`,
      Buffer.from('{"__proto__": {"polluted": true}, "id": "proto"}'),
      persistent,
    );
    await create(`${dir}/binary`, Buffer.from([0xff, 0xfe, 0x00, 0x81]), persistent);

    const seen: InstanceRecord[][] = [];
    const stop = r.watch(service, (records) => seen.push(records));
    expect(await eventually(() => seen.length > 0)).toBe(true);
    expect(seen.at(-1)).toEqual([good]);
    expect(await r.lookup(service)).toEqual([good]);
    const listed = (await r.list()).filter((x) => x.service === service);
    expect(listed).toEqual([good]);
    // A bad node written while watching is ignored too.
    await create(`${dir}/late`, Buffer.from('garbage'), persistent);
    const fresh = await registry();
    expect(await fresh.lookup(service)).toEqual([good]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(log.lines.some((l) => l.level === 'warn' && l.fields?.node === `${dir}/not-json`)).toBe(
      true,
    );
    stop();
  });

  it('forgets an instance whose process was killed once its session times out', async () => {
    const observer = await registry();
    const service = uniqueName('Killed');
    const record = makeRecord(service);
    // 4s is the smallest session timeout the shared server grants (2 ticks of 2s).
    const childUrl = `${url}?sessionTimeout=4000`;
    // Under this process's pid (the record's): only the session's end removes its node.
    const { child, exited } = await registeringProcess(childUrl, record, { ownPid: false });
    try {
      expect(await eventually(async () => (await observer.lookup(service)).length === 1)).toBe(
        true,
      );
      child.kill('SIGKILL');
      await exited;
      expect(
        await eventually(async () => (await observer.lookup(service)).length === 0, 20_000),
      ).toBe(true);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  it('drops its nodes at once when closed', async () => {
    const a = await registry();
    const service = uniqueName('Closing');
    const record = makeRecord(service);
    await a.register(record);
    await a.close();
    // Closing the session deletes its ephemeral nodes before close() resolves.
    expect(await ownerOf(`${root}/services/${service}/${record.id}`)).toBeUndefined();
  });
});

describe('ZooKeeper registry configuration', () => {
  it('rejects a malformed URL with a ConfigError', async () => {
    for (const bad of [
      'zookeeper://',
      'zookeeper://127.0.0.1:99999/svc',
      'zookeeper://127.0.0.1:2181/svc/../x',
      'zookeeper://127.0.0.1:2181/svc?sessionTimeout=soon',
      'zookeeper://127.0.0.1:2181/svc?colour=blue',
    ]) {
      await expect(createRegistry(bad, context()), bad).rejects.toMatchObject({
        code: 'SVC_ERR_CONFIG',
      });
    }
  });

  it('fails with a BackendError when no ZooKeeper answers', async () => {
    // Port 1 on loopback: nothing listens there.
    await expect(
      createRegistry('zookeeper://127.0.0.1:1/svc?connectTimeout=500', context()),
    ).rejects.toMatchObject({ code: 'SVC_ERR_BACKEND' });
  });

  it('refuses names that cannot be node names', async () => {
    const r = await registry();
    await expect(r.register(makeRecord('a/b'))).rejects.toMatchObject({ code: 'SVC_ERR_USAGE' });
    await expect(r.register(makeRecord('Svc', { id: '..' }))).rejects.toMatchObject({
      code: 'SVC_ERR_USAGE',
    });
    expect(await r.lookup('../etc')).toEqual([]);
  });
});
