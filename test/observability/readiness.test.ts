// /readyz of a real `svc instance` whose backend loses its server: a TCP
// proxy between the instance and RabbitMQ (or ZooKeeper) is severed, and
// readiness turns 503 with the reason; restored, it is 200 again. /healthz
// stays 200 throughout: reconnecting is no reason to restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMQP_URL, Cleanup, TcpProxy, rawConnection } from '../amqp/helpers.js';
import { freePort, probe, sleep, until } from '../node/helpers.js';
import { FIXTURES, TestEnv, requireBuild, type Proc } from '../support/svc.js';
import {
  closeClient,
  ensureZooKeeper,
  rawClient,
  removeTree,
  uniqueRoot,
} from '../zookeeper/helpers.js';

const env = new TestEnv();

beforeAll(() => requireBuild());
afterAll(() => env.stop());

/** A client on `backends` calls the instance, and is answered. */
async function expectServed(backends: { registry?: string; rpc: string }): Promise<void> {
  const client = await env.client({ ...backends, timeout: 10_000 });
  try {
    expect(await client.call('Slow', 'sleep', { ms: 1 })).toBe('slept');
  } finally {
    await client.close();
  }
}

/** Starts the health fixture on `backends` with its metrics port on `port`. */
async function start(backends: Record<string, string>, port: number): Promise<Proc> {
  const proc = env.spawn(['instance', '--config', 'health.yml'], {
    cwd: `${FIXTURES}/health`,
    env: { ...backends, METRICS_PORT: String(port) },
  });
  await proc.waitFor((p) => p.hasLog((l) => l.msg.startsWith('started ')), 'its "started" line');
  return proc;
}

/** SIGTERM, then SIGKILL when it has not exited within 5 s. */
async function stop(proc: Proc): Promise<void> {
  proc.child.kill('SIGTERM');
  const timer = setTimeout(() => proc.child.kill('SIGKILL'), 5000);
  await proc.exited;
  clearTimeout(timer);
}

/**
 * Severs the proxy and restores it: readiness goes 503 with `reason` while
 * it is severed and stays so, 200 once the backend is back; liveness stays
 * 200; the instance logs the drop once at warn and the return once at info.
 */
async function outage(proc: Proc, proxy: TcpProxy, port: number, reason: RegExp): Promise<void> {
  const readyz = `http://127.0.0.1:${port}/readyz`;
  const healthz = `http://127.0.0.1:${port}/healthz`;
  expect(await probe(readyz)).toEqual({ status: 200, body: 'ready\n' });

  proxy.sever();
  const down = await until('readiness to drop', async () => {
    const r = await probe(readyz);
    return r?.status === 503 ? r : undefined;
  });
  expect(down.body).toMatch(reason);
  expect(await probe(healthz)).toEqual({ status: 200, body: 'ok\n' });
  // Every probe of the outage says so (past the backend's failed reconnections), and the log
  // says it once.
  for (let i = 0; i < 3; i++) {
    await sleep(300);
    const r = await probe(readyz);
    expect(r?.status).toBe(503);
    expect(r?.body).toMatch(reason);
  }

  proxy.restore();
  await until('readiness to return', async () => (await probe(readyz))?.status === 200, 30_000);
  expect(await probe(readyz)).toEqual({ status: 200, body: 'ready\n' });
  expect(await probe(healthz)).toEqual({ status: 200, body: 'ok\n' });

  await proc.waitFor((p) => p.hasLog((l) => l.msg === 'ready again'), 'its "ready again" line');
  const drops = proc.logs().filter((l) => l.msg.startsWith('not ready: '));
  expect(drops.map((l) => l.level)).toEqual(['warn']);
  expect(drops[0]?.msg).toMatch(reason);
  expect(
    proc
      .logs()
      .filter((l) => l.msg === 'ready again')
      .map((l) => l.level),
  ).toEqual(['info']);
}

describe('readiness while a backend is away', () => {
  it('is not ready while RabbitMQ is out of reach, and ready once the instance reconnected', async () => {
    const proxy = new TcpProxy();
    const cleanup = new Cleanup();
    cleanup.add({ queues: ['rpc-Slow'] });
    let proc: Proc | undefined;
    try {
      const url = await proxy.listen();
      const port = await freePort();
      proc = await start({ SVC_RPC: url, SVC_EVENTS: url }, port);
      // The state only, not the connection's error: it names hosts and ports, and the probe
      // answers anyone who reaches the port.
      await outage(
        proc,
        proxy,
        port,
        /^not ready: rpc: RabbitMQ connection lost, reconnecting\n?$/,
      );

      // Ready means served: a call through the broker is answered.
      await expectServed({ rpc: AMQP_URL });
    } finally {
      if (proc) await stop(proc);
      await proxy.close();
      await cleanup.run();
    }
  });

  it('stays not ready after RabbitMQ is back until the instance consumes its queue again', async () => {
    // The proxy lets the instance reconnect but holds every channel's frames: the connection is
    // up, the RPC queue is not consumed, and cannot be while the frames are held.
    const proxy = new TcpProxy(undefined, { amqp: true });
    const cleanup = new Cleanup();
    cleanup.add({ queues: ['rpc-Slow'] });
    const raw = await rawConnection();
    const consumers = async () => (await raw.ch.checkQueue('rpc-Slow')).consumerCount;
    let proc: Proc | undefined;
    try {
      const url = await proxy.listen();
      const port = await freePort();
      const readyz = `http://127.0.0.1:${port}/readyz`;
      proc = await start({ SVC_RPC: url, SVC_EVENTS: url }, port);
      expect(await probe(readyz)).toEqual({ status: 200, body: 'ready\n' });
      expect(await consumers()).toBe(1);

      proxy.hold();
      proxy.cut();
      await until('the instance to reconnect and wait for a channel', () => proxy.held > 0);
      // the old consumer went with the old connection; the new one cannot have come
      await until('the old consumer to go', async () => (await consumers()) === 0);
      for (let i = 0; i < 3; i++) {
        expect(await probe(readyz)).toEqual({
          status: 503,
          body: 'not ready: rpc: RabbitMQ consumers not yet restored\n',
        });
        await sleep(200);
      }

      proxy.release();
      // The first probe that says ready: the queue has its consumer by then, not later.
      const deadline = Date.now() + 15_000;
      for (;;) {
        const r = await probe(readyz);
        if (r?.status === 200) break;
        expect(r?.body).toMatch(/^not ready: (rpc|events): RabbitMQ consumers not yet restored\n$/);
        if (Date.now() > deadline) throw new Error('timed out waiting for readiness to return');
        await sleep(5);
      }
      expect(await consumers()).toBe(1);
      await expectServed({ rpc: AMQP_URL });
    } finally {
      if (proc) await stop(proc);
      await proxy.close();
      await raw.conn.close().catch(() => {});
      await cleanup.run();
    }
  });

  it('is not ready while the ZooKeeper session is disconnected, and ready once it is back', async () => {
    ensureZooKeeper();
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 2181 });
    const root = uniqueRoot();
    let proc: Proc | undefined;
    try {
      await proxy.listen();
      const port = await freePort();
      proc = await start(
        { SVC_REGISTRY: `zookeeper://127.0.0.1:${proxy.port}${root}`, SVC_RPC: 'net' },
        port,
      );
      await outage(
        proc,
        proxy,
        port,
        /^not ready: registry: ZooKeeper session disconnected, reconnecting/,
      );

      // Ready means registered: a client on ZooKeeper itself finds the instance and calls it.
      await expectServed({ registry: `zookeeper://127.0.0.1:2181${root}`, rpc: 'net' });
    } finally {
      if (proc) await stop(proc);
      await proxy.close();
      const raw = await rawClient('127.0.0.1:2181');
      await removeTree(raw, root);
      await closeClient(raw);
    }
  });
});
