// Planted ZooKeeper entries (issue 13, item 1): with digest credentials in
// the URL, nodes are created so that nobody without them can add, change or
// remove any; and readers ignore a record the cluster did not sign.
import { ClusterAuth, createRegistry, type InstanceRecord, type Registry } from '@svc/core';
import zookeeper from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  closeClient,
  ensureZooKeeper,
  memoryLogger,
  rawClient,
  removeTree,
  uniqueRoot,
  type LogLine,
} from '../zookeeper/helpers.js';

const root = uniqueRoot();
const digest = 'svc-cluster:zk-password';
const url = `zookeeper://svc-cluster:zk-password@127.0.0.1:2181${root}`;
const secret = 'the-cluster-secret-for-zookeeper-tests-0001';
const warnings: LogLine[] = [];

const registries: Registry[] = [];
async function registry(clusterSecret = secret, lines: LogLine[] = []): Promise<Registry> {
  const log = memoryLogger(lines);
  const auth = new ClusterAuth({ cluster: 'zk', secret: clusterSecret }, { log });
  const r = await createRegistry(url, {
    cluster: 'zk',
    bindHost: '127.0.0.1',
    log,
    clientName: 'zk-auth-test',
    auth,
  });
  registries.push(r);
  return r;
}

const record = (id: string, endpoint: string): InstanceRecord => ({
  id,
  service: 'Greeting',
  host: 'localhost',
  pid: process.pid,
  startedAt: Date.now(),
  endpoints: { rpc: endpoint },
  subscriptions: [],
});

type Client = zookeeper.Client;
let outsider: Client;
let insider: Client;

/** A raw client call; a failure rejects with an Error carrying ZooKeeper's code. */
function call<T>(
  fn: (done: (e: Error | zookeeper.Exception | null, v?: T) => void) => void,
): Promise<T> {
  return new Promise((resolve, reject) =>
    fn((e, v) =>
      e
        ? reject(Object.assign(new Error(String(e)), { zkCode: 'getCode' in e ? e.getCode() : 0 }))
        : resolve(v as T),
    ),
  );
}
const code = (err: unknown) => (err as { zkCode?: number }).zkCode;

beforeAll(async () => {
  ensureZooKeeper();
  outsider = await rawClient('127.0.0.1:2181');
  insider = await rawClient('127.0.0.1:2181');
  insider.addAuthInfo('digest', Buffer.from(digest));
  const writer = await registry();
  await writer.register(record('a1', 'tcp://127.0.0.1:4001'));
}, 60_000);

afterAll(async () => {
  await Promise.allSettled(registries.map((r) => r.close()));
  if (insider) {
    await removeTree(insider, root);
    await closeClient(insider);
  }
  if (outsider) await closeClient(outsider);
});

describe('ZooKeeper entries of a cluster with digest credentials', () => {
  const service = `${root}/services/Greeting`;

  it('cannot be added, changed or removed by a client without the credentials', async () => {
    const planted = Buffer.from(JSON.stringify(record('evil', 'tcp://127.0.0.1:6666')));
    const NO_AUTH = zookeeper.Exception.NO_AUTH;
    await expect(
      call((done) => outsider.create(`${service}/evil`, planted, (e) => done(e))),
    ).rejects.toSatisfy((e) => code(e) === NO_AUTH);
    await expect(
      call((done) => outsider.setData(`${service}/a1`, planted, (e) => done(e))),
    ).rejects.toSatisfy((e) => code(e) === NO_AUTH);
    await expect(
      call((done) => outsider.remove(`${service}/a1`, (e) => done(e))),
    ).rejects.toSatisfy((e) => code(e) === NO_AUTH);
    // Everyone may still read them.
    const data = await call<Buffer>((done) =>
      outsider.getData(`${service}/a1`, (e, d) => done(e, d)),
    );
    const stored = JSON.parse(data.toString()) as { id: string; sig: string };
    expect(stored.id).toBe('a1');
    expect(stored.sig).toMatch(/^[0-9a-f]{64}$/);
  });

  it('are ignored by readers when unsigned or signed with another secret, each logged once', async () => {
    const unsigned = Buffer.from(JSON.stringify(record('bad1', 'tcp://127.0.0.1:6666')));
    const forged = Buffer.from(
      JSON.stringify({ ...record('bad2', 'tcp://127.0.0.1:6667'), sig: 'ab'.repeat(32) }),
    );
    await call((done) => insider.create(`${service}/bad1`, unsigned, (e) => done(e)));
    await call((done) => insider.create(`${service}/bad2`, forged, (e) => done(e)));
    const reader = await registry(secret, warnings);
    for (let i = 0; i < 3; i++) {
      const found = await reader.lookup('Greeting');
      expect(found.map((r) => r.id)).toEqual(['a1']);
    }
    const ignored = warnings.filter((l) => l.msg.startsWith('zookeeper: ignoring a node'));
    expect(ignored.map((l) => [l.msg, l.fields?.['node']]).sort()).toEqual([
      [
        'zookeeper: ignoring a node that holds a record whose signature is not the cluster’s',
        `${service}/bad2`,
      ],
      [
        'zookeeper: ignoring a node that holds a record without the cluster signature',
        `${service}/bad1`,
      ],
    ]);
  });

  it('are not believed by a reader of another secret', async () => {
    const stranger = await registry('another-secret-of-another-cluster-0002');
    expect(await stranger.lookup('Greeting')).toEqual([]);
  });
});
