import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  ClusterAuth,
  ConnectionLostError,
  type BackendContext,
  type EventMessage,
  type InstanceRecord,
  type RpcResponse,
} from '@svc/core';
import { LocalRegistry, localRegistryDir } from '@svc/core/internal';
import { ZmqEventTransport, ZmqRpcTransport } from '@svc/core/zmq';
import { eventually, uniqueName } from '@svc/core/testing/conformance';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const base = mkdtempSync(join(tmpdir(), 'svc-embedded-e2e-'));
const cluster = uniqueName('c');
const dir = localRegistryDir(cluster, { SVC_LOCAL_REGISTRY_DIR: base });

const log = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return log;
  },
};
const ctx: BackendContext = {
  cluster,
  bindHost: '127.0.0.1',
  log,
  clientName: 'test',
  // The peers' secret: the file beside their registry, under the same base folder.
  auth: new ClusterAuth(
    { cluster },
    { log, env: { ...process.env, SVC_LOCAL_REGISTRY_DIR: base } },
  ),
};
const headers = { traceId: 't', callIdStack: [], data: {} };

beforeAll(() => {
  if (!existsSync(join(here, '../../packages/core/dist/index.js'))) {
    throw new Error('packages/core is not built: run `npx pnpm build` first');
  }
});
afterAll(() => rmSync(base, { recursive: true, force: true }));

const children = new Set<ChildProcess>();
afterEach(() => {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
});

/** Starts peer.mjs from an unrelated working directory and waits until it has registered. */
async function startPeer(args: string[]): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [join(here, 'peer.mjs'), ...args], {
    cwd: tmpdir(),
    env: { ...process.env, SVC_LOCAL_REGISTRY_DIR: base, SVC_CLUSTER: cluster },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  const ready = await eventually(() => out.includes('ready') || child.exitCode !== null, 15_000);
  if (!ready || !out.includes('ready')) {
    throw new Error(`peer ${args.join(' ')} did not start: ${err || out}`);
  }
  return { child, output: () => out };
}

describe('embedded backends across real processes', () => {
  it('drops a SIGKILLed process from lookups and watches within about a second', async () => {
    const registry = await LocalRegistry.open(ctx, { dir });
    try {
      const service = uniqueName('Reg');
      const { child } = await startPeer(['registry', service]);
      const found = await registry.lookup(service);
      expect(found.map((r) => r.pid)).toEqual([child.pid]);
      const seen: InstanceRecord[][] = [];
      const stop = registry.watch(service, (records) => seen.push(records));
      expect(await eventually(() => seen.at(-1)?.length === 1)).toBe(true);
      child.kill('SIGKILL');
      expect(
        await eventually(async () => (await registry.lookup(service)).length === 0, 1500),
      ).toBe(true);
      expect(await eventually(() => seen.at(-1)?.length === 0, 1500)).toBe(true);
      stop();
      // The dead process's file is gone too, not only hidden.
      expect((await readdir(dir)).filter((n) => n.startsWith(`${service}+`))).toEqual([]);
    } finally {
      await registry.close();
    }
  });

  it('fails a call whose server is killed mid-call with ConnectionLostError and sends new calls to the survivor', async () => {
    const service = uniqueName('Greeting');
    const a = await startPeer(['rpc', service, 'A']);
    await startPeer(['rpc', service, 'B']);
    const registry = await LocalRegistry.open(ctx, { dir });
    const rpc = await ZmqRpcTransport.create(registry, ctx);
    try {
      // Round-robin over two instances: of two calls, one lands on each.
      const calls = [0, 1].map(() =>
        rpc.call({ service, method: 'slow', params: {}, headers }, { timeout: 15_000 }).then(
          (r: RpcResponse) => ({ reply: r }),
          (err: unknown) => ({ err }),
        ),
      );
      expect(await eventually(() => a.output().includes('got slow'), 5000)).toBe(true);
      a.child.kill('SIGKILL');
      const first = await Promise.race(calls);
      expect('err' in first && first.err).toBeInstanceOf(ConnectionLostError);
      const results: unknown[] = [];
      for (let i = 0; i < 4; i++) {
        const reply = await rpc.call(
          { service, method: 'who', params: {}, headers },
          { timeout: 5000 },
        );
        results.push(reply.ok ? reply.result : reply.error);
      }
      expect(results).toEqual(['B', 'B', 'B', 'B']);
    } finally {
      await rpc.close();
      await registry.close();
    }
  });

  it('delivers a delayed event after its emitter process has exited', async () => {
    const registry = await LocalRegistry.open(ctx, { dir });
    const events = await ZmqEventTransport.create(registry, ctx);
    try {
      const type = uniqueName('later');
      const got: EventMessage[] = [];
      const receivedAt: number[] = [];
      await events.subscribe(
        { service: 'Listen', handler: 'on', type, mode: 'pool' },
        async (e) => {
          receivedAt.push(Date.now());
          got.push(e);
        },
      );
      const endpoints = await events.start();
      await registry.register({
        id: uniqueName('i'),
        service: 'Listen',
        host: 'localhost',
        pid: process.pid,
        startedAt: Date.now(),
        endpoints,
        subscriptions: [{ type, mode: 'pool', handler: 'on' }],
      });
      const delay = 2000;
      const emitter = spawn(process.execPath, [join(here, 'peer.mjs'), 'emit', type, `${delay}`], {
        cwd: tmpdir(),
        env: { ...process.env, SVC_LOCAL_REGISTRY_DIR: base, SVC_CLUSTER: cluster },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      children.add(emitter);
      let out = '';
      emitter.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((r) => emitter.on('exit', (c) => r(c)));
      const exitedAt = Date.now();
      expect(code).toBe(0);
      const publishedAt = Number(/publishing (\d+)/.exec(out)?.[1]);
      expect(await eventually(() => got.length === 1, delay + 3000)).toBe(true);
      // Handled after the emitter had exited, and not before the delay ran out.
      expect(receivedAt[0]).toBeGreaterThan(exitedAt);
      expect(receivedAt[0]! - publishedAt).toBeGreaterThanOrEqual(delay - 50);
      expect(got[0]?.headers.traceId).toBe('emit-trace');
    } finally {
      await events.close();
      await registry.close();
    }
  });

  it('hands the events of a SIGKILLed subscriber to the survivor, losing none', async () => {
    const service = uniqueName('Listen');
    const type = uniqueName('greeted');
    const a = await startPeer(['listen', service, type]);
    const b = await startPeer(['listen', service, type]);
    const registry = await LocalRegistry.open(ctx, { dir });
    const events = await ZmqEventTransport.create(registry, ctx);
    const publish = (i: number) =>
      events.publish({ id: `e${i}`, type, source: 'Test', body: { i }, headers });
    try {
      const handled = (out: string) => [...out.matchAll(/event (\d+)/g)].map((m) => Number(m[1]));
      const before = () => [...handled(a.output()), ...handled(b.output())].sort((x, y) => x - y);
      for (let i = 0; i < 4; i++) await publish(i);
      expect(await eventually(() => before().length === 4)).toBe(true);
      expect(before()).toEqual([0, 1, 2, 3]);
      a.child.kill('SIGKILL');
      await new Promise((r) => a.child.once('exit', r));
      // The publisher's cached listing may still hold the dead instance: deliveries to it fail over to b.
      for (let i = 4; i < 10; i++) await publish(i);
      expect(await eventually(() => handled(b.output()).filter((i) => i >= 4).length === 6)).toBe(
        true,
      );
      expect(handled(b.output()).filter((i) => i >= 4)).toEqual([4, 5, 6, 7, 8, 9]);
    } finally {
      await events.close();
      await registry.close();
    }
  });
});
