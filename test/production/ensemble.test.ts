// The registry on a real ZooKeeper ensemble (issue 17, item 6): three servers on this machine,
// `zookeeper://a,b,c/root`, and `kill -9` of the ensemble's leader under a steady load of calls.
// The sessions of the instances move to the surviving servers: no registration is lost and no
// call fails, since every call had a live instance.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ClusterClient } from '@svc/core';
import { FIXTURES, TestEnv, requireBuild, type Proc } from '../support/svc.js';
import { ZooKeeperEnsemble } from '../zookeeper/ensemble.js';
import { ensureZooKeeper } from '../zookeeper/helpers.js';

const env = new TestEnv();
const ensemble = new ZooKeeperEnsemble();
const cwd = `${FIXTURES}/failover`;
let registry: string;
let backends: Record<string, string>;
let greetings: Proc[] = [];
let client: ClusterClient;

beforeAll(async () => {
  requireBuild();
  // Installs ZooKeeper when missing (and starts the shared server, which this test leaves alone).
  ensureZooKeeper();
  await ensemble.start();
  registry = `zookeeper://${ensemble.connectString}/svc-test-${env.cluster}`;
  backends = { SVC_REGISTRY: registry, SVC_RPC: 'net' };
  greetings = await Promise.all(
    [1, 2].map(() => env.instance('greeting.yml', { cwd, env: backends })),
  );
  client = await env.client({ registry, rpc: 'net', timeout: 5000 });
}, 90_000);

afterAll(async () => {
  await client?.close();
  await env.stop();
  await ensemble.dispose();
}, 30_000);

/** The ids of the registered Greeting instances, sorted. */
async function registered(c: ClusterClient): Promise<string[]> {
  return ((await c.discover()).get('Greeting') ?? []).map((r) => r.id).sort();
}

describe('the registry on a three-server ZooKeeper ensemble', () => {
  it('is used through a URL that lists the three servers', async () => {
    expect(registry).toMatch(/^zookeeper:\/\/127\.0\.0\.1:\d+,127\.0\.0\.1:\d+,127\.0\.0\.1:\d+\//);
    const { stdout, code } = await env.run(['discover'], { env: backends });
    expect({ code, stdout }).toEqual({ code: 0, stdout: 'Greeting [2]\n' });
  });

  it('loses no registration and fails no call when its leader is killed under load', async () => {
    const before = await registered(client);
    expect(before).toHaveLength(2);

    const failures: string[] = [];
    let calls = 0;
    let running = true;
    const loops = Array.from({ length: 6 }, async (_, k) => {
      for (let i = 0; running; i++) {
        const n = k * 1_000_000 + i;
        try {
          const result =
            i % 2 === 0
              ? await client.call('Greeting', 'greet', { name: `n${n}` })
              : await client.call('Greeting', 'count', { n });
          expect(result).toBe(i % 2 === 0 ? `Hi, n${n}!` : n);
          calls++;
        } catch (err) {
          failures.push(String(err));
          // A call that fails at once must not turn the loop into one that never yields.
          await new Promise((r) => setImmediate(r));
        }
      }
    });

    try {
      await new Promise((r) => setTimeout(r, 1000));
      const leader = (await ensemble.leader())!;
      await ensemble.kill(leader);
      const killedAt = Date.now();
      // The two left elect a new leader among themselves.
      let next;
      while ((next = await ensemble.leader()) === undefined || !(await ensemble.allServing())) {
        if (Date.now() - killedAt > 30_000)
          throw new Error(`no new leader:\n${await ensemble.state()}`);
        await new Promise((r) => setTimeout(r, 200));
      }
      expect(next.id).not.toBe(leader.id);

      // A caller that starts now, and a CLI, find both instances through the survivors.
      const fresh = await env.client({ registry, rpc: 'net' });
      try {
        expect(await registered(fresh)).toEqual(before);
        expect(await fresh.call('Greeting', 'greet', { name: 'Survivor' })).toBe('Hi, Survivor!');
      } finally {
        await fresh.close();
      }
      const request = await env.run(['request', 'Greeting.greet', '{"name": "Quorum"}'], {
        env: backends,
      });
      expect(request).toMatchObject({ code: 0, stdout: "'Hi, Quorum!'\n" });
      // Longer than a session's timeout after the kill: had a session been lost with the
      // leader, its instance's node would be gone by now.
      while (Date.now() - killedAt < 11_000) await new Promise((r) => setTimeout(r, 250));
    } finally {
      running = false;
      await Promise.all(loops);
    }

    expect(failures).toEqual([]);
    expect(calls).toBeGreaterThan(300);
    expect(await registered(client)).toEqual(before);
    expect((await env.run(['discover'], { env: backends })).stdout).toBe('Greeting [2]\n');
    // Neither instance had to register again: their sessions lived on.
    for (const g of greetings) {
      expect(g.child.exitCode).toBe(null);
      expect(g.logs().filter((l) => /session expired|registered again/.test(l.msg))).toEqual([]);
    }
  }, 60_000);
});
