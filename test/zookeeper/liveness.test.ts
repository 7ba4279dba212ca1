import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import type { InstanceRecord } from '@svc/core';
import { eventually, makeRecord, uniqueName } from '@svc/core/testing/conformance';
import { registeringProcess } from './helpers.js';
import { useSharedZooKeeper } from './shared-zookeeper.js';

const zk = useSharedZooKeeper();
const { root, url, registry } = zk;
const children: ChildProcess[] = [];

/**
 * A real process that registers one instance of `service` under its own
 * pid (as `svc instance` does) and stays; resolves once it is registered.
 */
async function registeredChild(service: string): Promise<ChildProcess> {
  // The default session timeout (10 s): a killed child's node outlives the 1.5 s asserted.
  const { child } = await registeringProcess(url, makeRecord(service), { ownPid: true });
  children.push(child);
  return child;
}

function killed(child: ChildProcess): Promise<void> {
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  return exited;
}

// Before the fixture closes the test's registries (after-hooks run last-registered first).
afterEach(() => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});

describe('ZooKeeper registry: processes of this host', () => {
  it('shows a watcher that an instance of this host was SIGKILLed within 1.5 s, before its session expires', async () => {
    const observer = await registry();
    const service = uniqueName('Killed');
    const child = await registeredChild(service);
    let current: InstanceRecord[] = [];
    const unwatch = observer.watch(service, (instances) => (current = instances));
    try {
      expect(await eventually(() => current.length === 1, 10_000)).toBe(true);
      expect(current[0]!.pid).toBe(child.pid);
      // Callers see the record as registered: what names the process stays in the node.
      expect(Object.keys(current[0]!)).not.toContain('pidSpace');
      await killed(child);
      const t0 = performance.now();
      expect(await eventually(() => current.length === 0, 5_000)).toBe(true);
      expect(performance.now() - t0).toBeLessThan(1500);
      // The watcher also removes its node, so other hosts see it leave before the session expires.
      const ids = () =>
        new Promise<string[]>((resolve, reject) =>
          zk.raw.getChildren(`${root}/services/${service}`, (e, c) =>
            e ? reject(new Error(e.toString())) : resolve(c),
          ),
        );
      expect(await eventually(async () => (await ids()).length === 0, 5_000)).toBe(true);
      // A lookup from a registry that does not watch leaves it out too, and so does list().
      const other = await registry();
      expect(await other.lookup(service)).toEqual([]);
      expect((await other.list()).filter((r) => r.service === service)).toEqual([]);
    } finally {
      unwatch();
    }
  });

  it('keeps an instance whose record names no process of this host until its session expires', async () => {
    // Written by another process under a pid that is not its own (a record
    // relayed for another host, say): nothing to check here.
    const writer = await registry();
    const observer = await registry();
    const service = uniqueName('Remote');
    const record = makeRecord(service, { pid: 2 ** 22 + 1 });
    await writer.register(record);
    expect(await eventually(async () => (await observer.lookup(service)).length === 1)).toBe(true);
    await new Promise((r) => setTimeout(r, 600));
    expect(await observer.lookup(service)).toEqual([record]);
  });
});
