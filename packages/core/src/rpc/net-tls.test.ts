import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { ConnectionLostError } from '../errors.js';
import { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
import { describeRpcTransport } from '../testing/conformance/rpc.js';
import { NetRpcTransport } from './net.js';
import { ClusterAuth } from '../security/auth.js';
import { connectTls, pskOf } from './net-tls.js';
import type { RpcHandler, RpcRequest } from './transport.js';
import { silent } from './test-support.js';

const SECRET = 'a cluster secret of the test, 32+';

const greet = (name: string): RpcRequest => ({
  service: 'greeter',
  method: 'greet',
  params: { name },
  headers: { traceId: 't1', callIdStack: [], data: {} },
});

describe('net rpc over TLS-PSK', () => {
  const toClose: { close(): Promise<void> }[] = [];
  const store = new MemoryRegistryStore();
  let seen = 0;
  const greeter: RpcHandler = (req) => {
    seen++;
    return Promise.resolve({ ok: true, result: `Hi, ${(req.params as { name: string }).name}!` });
  };

  function make(ctx: Partial<BackendContext> & { secret?: string } = {}): NetRpcTransport {
    const registry = new MemoryRegistry(store);
    const { secret = SECRET, ...rest } = ctx;
    const t = new NetRpcTransport(registry, {
      cluster: 'tls-test',
      bindHost: '127.0.0.1',
      log: silent,
      clientName: 'test',
      auth: new ClusterAuth({ cluster: 'tls-test', secret }, { log: silent }),
      ...rest,
    });
    toClose.push(t, registry);
    return t;
  }

  async function serve(): Promise<{ server: NetRpcTransport; endpoint: string }> {
    const server = make({ rpcTls: true });
    const { rpc } = await server.listen(['greeter'], greeter);
    await new MemoryRegistry(store).register({
      id: 'a',
      service: 'greeter',
      host: 'localhost',
      pid: process.pid,
      startedAt: Date.now(),
      endpoints: { rpc: rpc! },
      subscriptions: [],
    });
    return { server, endpoint: rpc! };
  }

  afterEach(async () => {
    await Promise.allSettled(toClose.splice(0).map((t) => t.close()));
    store.records.clear();
    seen = 0;
  });

  it('publishes a tls:// endpoint and answers a caller that has the secret', async () => {
    const { endpoint } = await serve();
    expect(endpoint).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
    // The caller itself serves plain TCP: TLS is chosen by the endpoint it calls.
    await expect(make().call(greet('Ann'), { timeout: 2000 })).resolves.toEqual({
      ok: true,
      result: 'Hi, Ann!',
    });
  });

  it('refuses a caller with another secret before its request reaches the handler', async () => {
    const { server } = await serve();
    const stranger = make({ secret: 'another secret, same length!!!!!' });
    await expect(stranger.call(greet('Eve'), { timeout: 2000 })).rejects.toBeInstanceOf(
      ConnectionLostError,
    );
    expect(seen).toBe(0);
    await expect.poll(() => server.stats().tlsRefused).toBe(1);
  });

  it('refuses a plain TCP client that sends a frame, and decodes none of it', async () => {
    const { server, endpoint } = await serve();
    const port = Number(/:(\d+)$/.exec(endpoint)![1]);
    const sock = net.connect({ host: '127.0.0.1', port });
    const received: Buffer[] = [];
    sock.on('data', (d: Buffer) => received.push(d));
    // A well-formed plaintext `net` frame: length prefix then a MessagePack request.
    const frame = Buffer.from('0000000f9500010067726565746572a567726565', 'hex');
    sock.write(frame);
    await new Promise((resolve) => sock.on('close', resolve));
    expect(seen).toBe(0);
    expect(server.stats()).toMatchObject({ badFrames: 0, refusedPeers: 0, tlsRefused: 1 });
    // At most a TLS alert came back, never a reply frame.
    const bytes = Buffer.concat(received);
    expect(bytes.length === 0 || bytes[0] === 0x15).toBe(true);
  });

  it('derives a different key per cluster', () => {
    expect(pskOf(SECRET, 'a').equals(pskOf(SECRET, 'b'))).toBe(false);
    expect(pskOf(SECRET, 'a')).toHaveLength(32);
  });

  it('negotiates TLS 1.2 with an ECDHE-PSK suite', async () => {
    const { endpoint } = await serve();
    const port = Number(/:(\d+)$/.exec(endpoint)![1]);
    const sock = connectTls('127.0.0.1', port, pskOf(SECRET, 'tls-test'));
    await new Promise((resolve, reject) => sock.on('secureConnect', resolve).on('error', reject));
    expect(sock.getProtocol()).toBe('TLSv1.2');
    expect(sock.getCipher().name).toMatch(/^ECDHE-PSK-/);
    sock.destroy();
  });
});

const conformanceStore = new MemoryRegistryStore();
describeRpcTransport('net over TLS', {
  create: () => {
    const registry = new MemoryRegistry(conformanceStore);
    const ctx: BackendContext = {
      cluster: 'conformance-tls',
      bindHost: '127.0.0.1',
      log: silent,
      clientName: 'c',
      rpcTls: true,
      auth: new ClusterAuth({ cluster: 'conformance-tls', secret: SECRET }, { log: silent }),
    };
    return Promise.resolve({ rpc: new NetRpcTransport(registry, ctx), registry });
  },
});
