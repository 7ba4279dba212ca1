import { spawn, type ChildProcess } from 'node:child_process';
import { readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import zookeeper from 'node-zookeeper-client';
import { createRegistry, type InstanceRecord, type Registry } from '@svc/core';
import { eventually, makeRecord, uniqueName } from '@svc/core/testing/conformance';
import {
  DeadNodeReaper,
  ZooKeeperSession,
  parseZooKeeperUrl,
  type DeadNode,
} from '@svc/core/internal';
import {
  context,
  memoryLogger,
  registeringProcess,
  removeTree,
  repoRoot,
  type LogLine,
} from './helpers.js';
import { useSharedZooKeeper } from './shared-zookeeper.js';

// Another pid namespace is another host for the liveness check: pidSpace()
// (registry/liveness.ts) names a process's boot id and pid namespace, and
// a reader checks /proc only for records of its own.

const zk = useSharedZooKeeper();
const { root } = zk;
/** A long session: a killed instance's node would outlive every wait below. */
const SESSION_TIMEOUT_MS = 30_000;
const url = `zookeeper://127.0.0.1:2181${root}?sessionTimeout=${SESSION_TIMEOUT_MS}`;
/** A cluster whose nodes only its digest identity may change (ZooKeeper ACLs). */
const authRoot = `${root}-auth`;
const digest = 'svc-cluster:zk-password';
const authUrl = `zookeeper://${digest}@127.0.0.1:2181${authRoot}?sessionTimeout=${SESSION_TIMEOUT_MS}`;
const authUrlWithoutCredentials = `zookeeper://127.0.0.1:2181${authRoot}`;
const cleanups: (() => Promise<void> | void)[] = [];

/** A pid namespace of its own running fixtures/host.mjs as its pid 1; its lines are kept. */
class Host {
  readonly lines: string[] = [];
  readonly #process: ChildProcess;

  constructor() {
    // --kill-child: if this unshare dies, so does the host, and with it every process of its namespace.
    this.#process = spawn(
      'unshare',
      [
        '--pid',
        '--fork',
        '--mount-proc',
        '--kill-child',
        process.execPath,
        join(repoRoot, 'test/zookeeper/fixtures/host.mjs'),
      ],
      { env: { ...process.env, ZK_URL: url }, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    createInterface({ input: this.#process.stdout! }).on('line', (l) => this.lines.push(l));
    createInterface({ input: this.#process.stderr! }).on('line', (l) => this.lines.push(l));
    cleanups.push(() => this.stop());
  }

  send(line: string): void {
    this.#process.stdin!.write(`${line}\n`);
  }

  async line(pattern: RegExp, timeoutMs = 15_000): Promise<RegExpExecArray> {
    let found: RegExpExecArray | null = null;
    await eventually(() => this.lines.some((l) => (found = pattern.exec(l)) !== null), timeoutMs);
    if (!found)
      throw new Error(`no line ${String(pattern)} from the host:\n${this.lines.join('\n')}`);
    return found;
  }

  async stop(): Promise<void> {
    const p = this.#process;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => p.once('exit', () => resolve()));
    p.kill('SIGKILL');
    await exited;
  }
}

async function registry(log = memoryLogger(), registryUrl = url): Promise<Registry> {
  const r = await createRegistry(registryUrl, context(log));
  cleanups.push(() => r.close());
  return r;
}

function children(path: string): Promise<string[]> {
  return new Promise((resolve, reject) =>
    zk.raw.getChildren(path, (e, c) => (e ? reject(new Error(e.toString())) : resolve(c))),
  );
}

beforeAll(() => {
  // To read and clean up the cluster with credentials too.
  zk.raw.addAuthInfo('digest', Buffer.from(digest));
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
// Before the fixture removes the root and closes its client (after-hooks run last-registered first).
afterAll(async () => {
  await removeTree(zk.raw, authRoot);
});

describe('ZooKeeper registry: an instance killed on another host', () => {
  it('leaves the view of a watcher on another host well before its session expires, once a reader of its own host sees it gone', async () => {
    const host = new Host();
    const [, space] = await host.line(/^host (\S+) pid 1$/);
    // The watcher here is honestly on another host for the liveness check.
    expect(space).not.toBe(readlinkSync('/proc/self/ns/pid'));

    const service = uniqueName('Killed');
    const record = makeRecord(service);
    host.send(`start A register ${JSON.stringify(record)}`);
    await host.line(/^A registered pid \d+$/);

    const watcher = await registry();
    let current: InstanceRecord[] = [];
    const unwatch = watcher.watch(service, (instances) => (current = instances));
    cleanups.push(unwatch);
    expect(await eventually(() => current.some((r) => r.id === record.id), 10_000)).toBe(true);

    // A reader on A's host: another instance watching the same service.
    host.send(`start R1 watch ${service}`);
    await host.line(new RegExp(`^R1 sees \\[${record.id}\\]$`));

    host.send('kill A');
    await host.line(/^A exited SIGKILL$/);
    // 5 s, against a 30 s session timeout: only a removal by R1 can do it.
    expect(await eventually(() => current.length === 0, 5_000)).toBe(true);
    expect(await children(`${root}/services/${service}`)).toEqual([]);
    const [, pid] = await host.line(/^A registered pid (\d+)$/);
    await host.line(
      new RegExp(
        `^R1 log info zookeeper: removed the record of instance ${service}/${record.id} \\(pid ${pid}, gone\\)$`,
      ),
    );
  });
});

describe('DeadNodeReaper: removing the node of a dead process of this host', () => {
  /** A node as a dead process of this host left it, read back as the registry reads it. */
  async function deadNode(registryUrl = url): Promise<DeadNode> {
    const service = uniqueName('Reaped');
    const record = makeRecord(service);
    // A real process of this pid space registers and is SIGKILLed: its node stays with its session.
    const { child, exited } = await registeringProcess(registryUrl, record, { ownPid: true });
    cleanups.push(async () => {
      child.kill('SIGKILL');
      await exited;
    });
    child.kill('SIGKILL');
    await exited;
    const path = `${parseZooKeeperUrl(registryUrl).root}/services/${service}/${record.id}`;
    const [data, stat] = await new Promise<[Buffer, zookeeper.Stat]>((resolve, reject) =>
      zk.raw.getData(path, (e, d, s) => (e ? reject(new Error(e.toString())) : resolve([d, s]))),
    );
    const written = JSON.parse(data.toString()) as { pidSpace: string; pidStart: string };
    return {
      path,
      instance: `${service}/${record.id}`,
      process: { pid: child.pid!, space: written.pidSpace, start: written.pidStart },
      version: stat.version,
      czxid: stat.czxid,
      owner: stat.ephemeralOwner,
    };
  }

  async function reaper(lines: LogLine[], registryUrl = url): Promise<DeadNodeReaper> {
    const config = parseZooKeeperUrl(registryUrl);
    const log = memoryLogger(lines);
    const session = await ZooKeeperSession.open(zookeeper, config, log, {
      onNewSession: () => {},
      onReconnect: () => {},
    });
    cleanups.push(() => session.close());
    return new DeadNodeReaper({ zk: zookeeper, session: () => session, log, ours: () => false });
  }

  function exists(path: string): Promise<boolean> {
    return new Promise((resolve, reject) =>
      zk.raw.exists(path, (e, s) => (e ? reject(new Error(e.toString())) : resolve(s !== null))),
    );
  }

  it('removes the node of a dead process unchanged since it was read, and says so once', async () => {
    const node = await deadNode();
    const lines: LogLine[] = [];
    const reaping = await reaper(lines);
    reaping.reap([node]);
    reaping.reap([node]);
    await reaping.close();
    expect(await exists(node.path)).toBe(false);
    expect(lines.filter((l) => l.level !== 'debug').map((l) => `${l.level} ${l.msg}`)).toEqual([
      `info zookeeper: removed the record of instance ${node.instance} (pid ${node.process.pid}, gone)`,
    ]);
  });

  it('keeps a record written again after it was read', async () => {
    const node = await deadNode();
    // Written again since it was read: its version is no longer the one read.
    await new Promise<void>((resolve, reject) =>
      zk.raw.setData(node.path, Buffer.from('{}'), -1, (e) =>
        e ? reject(new Error(e.toString())) : resolve(),
      ),
    );
    const lines: LogLine[] = [];
    const reaping = await reaper(lines);
    reaping.reap([node]);
    await reaping.close();
    expect(await exists(node.path)).toBe(true);
    expect(lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('keeps a record made again under the same path, at the version read', async () => {
    const node = await deadNode();
    // Removed and made again (a restart reusing the id): version 0 again, another node.
    const data = await new Promise<Buffer>((resolve, reject) =>
      zk.raw.getData(node.path, (e, d) => (e ? reject(new Error(e.toString())) : resolve(d))),
    );
    await new Promise<void>((resolve, reject) =>
      zk.raw.remove(node.path, -1, (e) => (e ? reject(new Error(e.toString())) : resolve())),
    );
    await new Promise<void>((resolve, reject) =>
      zk.raw.create(node.path, data, zookeeper.CreateMode.EPHEMERAL, (e) =>
        e ? reject(new Error(e.toString())) : resolve(),
      ),
    );
    const lines: LogLine[] = [];
    const reaping = await reaper(lines);
    reaping.reap([{ ...node }]);
    await reaping.close();
    expect(await exists(node.path)).toBe(true);
    expect(lines.filter((l) => l.level !== 'debug')).toEqual([]);
  });

  it('removes the node of a cluster with digest credentials, as a member with the same credentials', async () => {
    const node = await deadNode(authUrl);
    const lines: LogLine[] = [];
    const reaping = await reaper(lines, authUrl);
    reaping.reap([node]);
    await reaping.close();
    expect(await exists(node.path)).toBe(false);
    expect(lines.filter((l) => l.level === 'info').map((l) => l.msg)).toEqual([
      `zookeeper: removed the record of instance ${node.instance} (pid ${node.process.pid}, gone)`,
    ]);
  });

  it('leaves the node of a cluster with digest credentials to a reader without them, warning once', async () => {
    const nodes = [await deadNode(authUrl), await deadNode(authUrl)];
    const lines: LogLine[] = [];
    const reaping = await reaper(lines, authUrlWithoutCredentials);
    reaping.reap(nodes);
    await reaping.close();
    for (const node of nodes) expect(await exists(node.path)).toBe(true);
    expect(lines.filter((l) => l.level !== 'debug').map((l) => `${l.level} ${l.msg}`)).toEqual([
      'warn zookeeper: could not remove the record of an instance whose process is gone; it stays until its session expires',
    ]);
  });

  it('leaves the node to a reader of its host without the credentials, which still leaves it out of lookup() and list()', async () => {
    const node = await deadNode(authUrl);
    const service = node.instance.split('/')[0]!;
    const lines: LogLine[] = [];
    const reader = await registry(memoryLogger(lines), authUrlWithoutCredentials);
    expect(await reader.lookup(service)).toEqual([]);
    expect((await reader.list()).filter((r) => r.service === service)).toEqual([]);
    expect(
      await eventually(() =>
        lines.some((l) => l.level === 'warn' && /could not remove/.test(l.msg)),
      ),
    ).toBe(true);
    expect(await exists(node.path)).toBe(true);
  });
});
