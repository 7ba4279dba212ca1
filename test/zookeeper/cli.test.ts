// What the svc CLI leaves in ZooKeeper once it has exited: nothing of its own.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv, requireBuild } from '../support/svc.js';
import { useSharedZooKeeper } from './shared-zookeeper.js';

const zk = useSharedZooKeeper();
const { root } = zk;
const env = new TestEnv();

function children(path: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    zk.raw.getChildren(path, (e, c) => (e ? reject(new Error(e.toString())) : resolve(c))),
  );
}

beforeAll(() => requireBuild());
// Before the fixture removes the root (after-hooks run last-registered first).
afterAll(() => env.stop());

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
