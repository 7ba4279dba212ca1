// What the svc CLI leaves in ZooKeeper once it has exited: nothing of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type zookeeper from 'node-zookeeper-client';
import { TestEnv, requireBuild } from '../support/svc.js';
import { closeClient, ensureZooKeeper, rawClient, removeTree, uniqueRoot } from './helpers.js';

const root = uniqueRoot();
const env = new TestEnv();
let raw: zookeeper.Client;

function children(path: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    raw.getChildren(path, (e, c) => (e ? reject(new Error(e.toString())) : resolve(c))),
  );
}

beforeAll(async () => {
  requireBuild();
  ensureZooKeeper();
  raw = await rawClient('127.0.0.1:2181');
});
afterAll(async () => {
  await env.stop();
  await removeTree(raw, root);
  await closeClient(raw);
});

describe('the svc CLI on a ZooKeeper registry', () => {
  it('removes the service node of its svc subscribe subscriber when it exits', async () => {
    const sub = env.spawn([
      'subscribe',
      'greeted',
      '--registry',
      `zookeeper://127.0.0.1:2181${root}`,
    ]);
    await sub.waitFor((p) => p.stderr.includes('listening for greeted'), 'the subscriber');
    const [own] = await children(`${root}/services`);
    expect(own).toMatch(/^svc-cli-[0-9a-f]+$/);
    expect(await children(`${root}/services/${own}`)).toHaveLength(1);

    sub.child.kill('SIGINT');
    expect((await sub.exited).code).toBe(0);
    expect(await children(`${root}/services`)).toEqual([]);
  });
});
