import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { ConnectionLostError, RpcTimeoutError } from '../errors.js';
import { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
import { ClusterAuth } from '../security/auth.js';
import type { InstanceRecord } from '../registry/registry.js';
import { NotDeliveredError, idempotentMethods } from './failover.js';
import { NetRpcTransport } from './net.js';
import { InstancePicker, QUARANTINE_MS } from './picker.js';
import type { RpcHandler, RpcRequest } from './transport.js';
import { silent } from './test-support.js';

const ctx: BackendContext = {
  cluster: 'test',
  bindHost: '127.0.0.1',
  log: silent,
  clientName: 'test',
};
const headers = { traceId: 't1', callIdStack: [], data: {} };
const call = (method: string, n = 0): RpcRequest => ({
  service: 'greeter',
  method,
  params: { n },
  headers,
});

function record(id: string, rpc: string, idempotent?: string[]): InstanceRecord {
  return {
    id,
    service: 'greeter',
    host: 'localhost',
    pid: process.pid,
    startedAt: Date.now(),
    endpoints: { rpc },
    subscriptions: [],
    ...(idempotent ? { metadata: { idempotent } } : {}),
  };
}

const tick = () => new Promise((r) => setTimeout(r, 10));

describe('InstancePicker', () => {
  const store = new MemoryRegistryStore();
  afterEach(() => {
    for (const r of store.lookup('greeter')) store.delete('greeter', r.id);
  });

  it('leaves a failed endpoint out of picks at once, though the registry still lists it', async () => {
    let now = 1_000_000;
    const picker = new InstancePicker(new MemoryRegistry(store), 'rpc', () => now);
    store.set(record('a', 'tcp://a:1'));
    store.set(record('b', 'tcp://b:1'));
    await picker.pick('greeter');
    picker.evict('greeter', 'tcp://a:1');
    // Another instance's change re-lists the failed one: it stays out.
    store.set(record('c', 'tcp://c:1'));
    await tick();
    const picks = new Set(Array.from({ length: 8 }, () => picker.pickKnown('greeter')));
    expect([...picks].sort()).toEqual(['tcp://b:1', 'tcp://c:1']);
    expect(picker.isRefused('tcp://a:1')).toBe(true);

    // Once its backoff has passed it is tried again.
    now += QUARANTINE_MS.initial;
    const later = new Set(Array.from({ length: 9 }, () => picker.pickKnown('greeter')));
    expect(later.has('tcp://a:1')).toBe(true);
    picker.close();
  });

  it('backs off longer after each failure in a row, and forgets them once the endpoint is reached', async () => {
    let now = 1_000_000;
    const picker = new InstancePicker(new MemoryRegistry(store), 'rpc', () => now);
    store.set(record('a', 'tcp://a:1'));
    store.set(record('b', 'tcp://b:1'));
    await picker.pick('greeter');
    picker.evict('greeter', 'tcp://a:1');
    now += QUARANTINE_MS.initial;
    expect(picker.isRefused('tcp://a:1')).toBe(false);
    picker.evict('greeter', 'tcp://a:1');
    // The second wait is twice the first, less at most a fifth.
    now += QUARANTINE_MS.initial * 1.5;
    expect(picker.isRefused('tcp://a:1')).toBe(true);
    picker.reachable('tcp://a:1');
    expect(picker.isRefused('tcp://a:1')).toBe(false);
    picker.close();
  });

  it('takes an endpoint back at once when the registry lists a new instance there', async () => {
    const picker = new InstancePicker(new MemoryRegistry(store));
    store.set(record('a', 'tcp://a:1'));
    store.set(record('b', 'tcp://b:1'));
    await picker.pick('greeter');
    picker.evict('greeter', 'tcp://a:1');
    store.delete('greeter', 'a');
    store.set(record('a2', 'tcp://a:1'));
    await tick();
    expect(picker.isRefused('tcp://a:1')).toBe(false);
    picker.close();
  });

  it('still picks a lone instance that failed: a failure never shuts a service out', async () => {
    const picker = new InstancePicker(new MemoryRegistry(store));
    store.set(record('a', 'tcp://a:1'));
    await picker.pick('greeter');
    picker.evict('greeter', 'tcp://a:1');
    expect(picker.pickKnown('greeter')).toBe('tcp://a:1');
    picker.close();
  });

  it('knows a method idempotent only when every listed instance says so', () => {
    expect([
      ...idempotentMethods([record('a', 'x', ['get', 'put']), record('b', 'y', ['get'])]),
    ]).toEqual(['get']);
    expect(idempotentMethods([record('a', 'x', ['get']), record('b', 'y')]).size).toBe(0);
    const odd = { ...record('a', 'x'), metadata: { idempotent: 'get' } };
    expect(idempotentMethods([odd]).size).toBe(0);
  });
});

describe('net rpc failover', () => {
  const store = new MemoryRegistryStore();
  const toClose: { close(): unknown }[] = [];
  afterEach(async () => {
    for (const c of toClose.splice(0).reverse()) await c.close();
    for (const r of store.lookup('greeter')) store.delete('greeter', r.id);
  });

  /** A live instance that counts what it ran. */
  async function live(id: string, idempotent?: string[]): Promise<{ ran: number[] }> {
    const ran: number[] = [];
    const handler: RpcHandler = (req) => {
      ran.push((req.params as { n: number }).n);
      return { ok: true, result: `ran ${(req.params as { n: number }).n}` };
    };
    const t = new NetRpcTransport(new MemoryRegistry(store), ctx);
    toClose.push(t);
    const { rpc } = await t.listen(['greeter'], handler);
    store.set(record(id, rpc!, idempotent));
    return { ran };
  }

  /**
   * An instance that dies (drops its connection) with each request it reads:
   * it passes the cluster handshake, so the request has reached its code.
   */
  async function dying(id: string, idempotent?: string[]): Promise<{ got: () => number }> {
    let got = 0;
    const auth = new ClusterAuth({ cluster: ctx.cluster }, { log: silent });
    const server = net.createServer((socket) => {
      const onRequest = () => {
        got++;
        socket.resetAndDestroy();
      };
      auth.accept(socket, 'rpc', (rest) => {
        if (rest.length > 0) onRequest();
        else socket.once('data', onRequest);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    toClose.push(server);
    const { port } = server.address() as net.AddressInfo;
    store.set(record(id, `tcp://127.0.0.1:${port}`, idempotent));
    return { got: () => got };
  }

  /** An instance the registry lists whose port refuses connections (its process is gone). */
  async function gone(id: string): Promise<void> {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    store.set(record(id, `tcp://127.0.0.1:${port}`));
  }

  function client(): NetRpcTransport {
    const t = new NetRpcTransport(new MemoryRegistry(store), ctx);
    toClose.push(t);
    return t;
  }

  it('sends calls that a gone instance refused to a live one: none fails', async () => {
    await gone('dead');
    const { ran } = await live('alive');
    const c = client();
    // Concurrent calls, several of them queued on the refused connection.
    const replies = await Promise.all(
      Array.from({ length: 20 }, (_, n) => c.call(call('work', n), { timeout: 3000 })),
    );
    expect(replies.every((r) => r.ok)).toBe(true);
    expect(ran.sort((a, b) => a - b)).toEqual(Array.from({ length: 20 }, (_, n) => n));
  });

  it('fails a refused call with NotDeliveredError when no other instance is live', async () => {
    await gone('dead');
    await expect(client().call(call('work'), { timeout: 3000 })).rejects.toBeInstanceOf(
      NotDeliveredError,
    );
  });

  it('never repeats a call its instance may have run before dying (at most once)', async () => {
    const cut = await dying('dying');
    const { ran } = await live('alive');
    const c = client();
    const outcomes = [];
    for (let n = 0; n < 2; n++) {
      outcomes.push(await c.call(call('work', n), { timeout: 3000 }).catch((e: unknown) => e));
    }
    const failed = outcomes.filter((o) => o instanceof Error);
    expect(failed).toHaveLength(1);
    expect(failed[0]).toBeInstanceOf(ConnectionLostError);
    expect(failed[0]).not.toBeInstanceOf(NotDeliveredError);
    expect(cut.got()).toBe(1);
    expect(ran).toHaveLength(1);
  });

  it('repeats an idempotent call cut by its instance on another one', async () => {
    const cut = await dying('dying', ['work']);
    const { ran } = await live('alive', ['work']);
    const c = client();
    for (let n = 0; n < 2; n++) {
      await expect(c.call(call('work', n), { timeout: 3000 })).resolves.toEqual({
        ok: true,
        result: `ran ${n}`,
      });
    }
    expect(cut.got()).toBe(1);
    expect(ran.sort()).toEqual([0, 1]);
  });

  it('repeats an idempotent call only within its deadline, and names the call in the timeout', async () => {
    let got = 0;
    // Dies a while after reading the request: the retry has less time than that left.
    const server = net.createServer((socket) => {
      socket.once('data', () => {
        got++;
        setTimeout(() => socket.resetAndDestroy(), 150);
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    toClose.push(server);
    const { port } = server.address() as net.AddressInfo;
    store.set(record('slow-dying', `tcp://127.0.0.1:${port}`, ['never']));
    const t = new NetRpcTransport(new MemoryRegistry(store), ctx);
    toClose.push(t);
    const { rpc } = await t.listen(['greeter'], () => new Promise(() => {}));
    store.set(record('stuck', rpc!, ['never']));
    const c = client();
    const started = Date.now();
    const outcomes = await Promise.all(
      [0, 1].map((n) => c.call(call('never', n), { timeout: 400 }).catch((e: unknown) => e)),
    );
    for (const o of outcomes) {
      expect(o).toBeInstanceOf(RpcTimeoutError);
      expect((o as Error).message).toBe('greeter.never did not answer within 400 ms');
    }
    expect(Date.now() - started).toBeLessThan(1500);
    expect(got).toBe(1);
  });
});
