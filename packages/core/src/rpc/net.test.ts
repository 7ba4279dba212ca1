import { spawn } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as net from 'node:net';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { ConnectionLostError, RpcTimeoutError, UnknownServiceError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
import type { Registry } from '../registry/registry.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { describeRpcTransport } from '../testing/conformance/rpc.js';
import { createRpcTransport } from '../backends.js';
import { NetRpcTransport, parseEndpoint } from './net.js';
import { FrameBudget } from './net-frames.js';
import { NetRpcServer } from './net-server.js';
import { limitsOf } from '../limits.js';
import { ClusterAuth } from '../security/auth.js';
import { localSocketPath, removeIfStale, sweepStale } from './net-local.js';
import type { RpcHandler, RpcRequest } from './transport.js';
import { useOwnRuntimeDir } from './test-support.js';

interface Logged {
  level: string;
  msg: string;
  fields: Record<string, unknown> | undefined;
}

function recordingLogger(out: Logged[]): Logger {
  const log = (level: string) => (msg: string, fields?: Record<string, unknown>) => {
    out.push({ level, msg, fields });
  };
  const logger: Logger = {
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    child: () => logger,
  };
  return logger;
}

// The unix sockets of this file's servers go to a runtime folder of its own.
const ownRuntime = useOwnRuntimeDir();

/** Listens on a unix socket at `path` (as a live server does); close it when done. */
async function listenAt(path: string): Promise<net.Server> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return server;
}

/** Leaves a socket file at `path` as a process SIGKILLed while it listens there does. */
async function leaveStaleSocket(path: string): Promise<void> {
  const child = spawn(process.execPath, [
    '-e',
    `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`,
  ]);
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('exit', resolve));
  expect(existsSync(path)).toBe(true);
}

const headers = { traceId: 't1', callIdStack: [], data: {} };
const greet = (name: string): RpcRequest => ({
  service: 'greeter',
  method: 'greet',
  params: { name },
  headers,
});

const greeter: RpcHandler = async (req) => {
  if (req.method === 'fail') {
    return { ok: false, error: { code: 'E_USER', type: 'ValueError', message: 'nope' } };
  }
  if (req.method === 'never') return new Promise(() => {});
  return { ok: true, result: `Hi, ${(req.params as { name: string }).name}!` };
};

describe('net rpc transport', () => {
  const toClose: { close(): Promise<void> }[] = [];
  const logs: Logged[] = [];
  const store = new MemoryRegistryStore();

  function make(
    registry: Registry = new MemoryRegistry(store),
    limits: BackendContext['limits'] = {},
    more: Partial<BackendContext> = {},
  ): NetRpcTransport {
    const ctx: BackendContext = {
      cluster: 'test',
      bindHost: '127.0.0.1',
      log: recordingLogger(logs),
      clientName: 'test',
      limits,
      ...more,
    };
    const t = new NetRpcTransport(registry, ctx, { maxFrameBytes: 64 * 1024 });
    toClose.push(t, registry);
    return t;
  }

  async function serve(id: string, handler: RpcHandler = greeter): Promise<NetRpcTransport> {
    const t = make();
    const endpoints = await t.listen(['greeter'], handler);
    await new MemoryRegistry(store).register({
      id,
      service: 'greeter',
      host: 'localhost',
      pid: process.pid,
      startedAt: Date.now(),
      endpoints,
      subscriptions: [],
    });
    return t;
  }

  afterEach(async () => {
    await Promise.allSettled(toClose.splice(0).map((t) => t.close()));
    store.records.clear();
    logs.length = 0;
  });

  it('is created by createRpcTransport under the scheme "net"', async () => {
    const ctx: BackendContext = {
      cluster: 'test',
      bindHost: '127.0.0.1',
      log: recordingLogger(logs),
      clientName: 'test',
    };
    const t = await createRpcTransport('net', new MemoryRegistry(store), ctx);
    toClose.push(t);
    expect(t.kind).toBe('net');
  });

  it('answers a call through the registry and binds a tcp endpoint on port 0', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    expect(rpc).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
    const client = make();
    await expect(client.call(greet('Ann'), { timeout: 2000 })).resolves.toEqual({
      ok: true,
      result: 'Hi, Ann!',
    });
  });

  it('reaches a server on this host by its unix socket, and by TCP when either side turns that off', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const path = localSocketPath(rpc!)!;
    expect(existsSync(path)).toBe(true);
    const client = make();
    await expect(client.call(greet('Ann'), { timeout: 2000, address: rpc! })).resolves.toEqual({
      ok: true,
      result: 'Hi, Ann!',
    });
    expect(server.stats()).toMatchObject({ connections: 1, localConnections: 1 });

    // A caller with rpc_unix off uses TCP, to the same server.
    const tcpCaller = make(undefined, {}, { rpcUnix: false });
    await tcpCaller.call(greet('Bo'), { timeout: 2000, address: rpc! });
    expect(server.stats()).toMatchObject({ connections: 2, localConnections: 1 });

    // A server with rpc_unix off has no socket file; callers use TCP.
    const tcpServer = make(undefined, {}, { rpcUnix: false });
    const { rpc: tcpOnly } = await tcpServer.listen(['greeter'], greeter);
    expect(existsSync(localSocketPath(tcpOnly!)!)).toBe(false);
    await client.call(greet('Cy'), { timeout: 2000, address: tcpOnly! });
    expect(tcpServer.stats()).toMatchObject({ connections: 1, localConnections: 0 });

    // The file goes with its server.
    await server.close();
    expect(existsSync(path)).toBe(false);
  });

  it("reaches a server by TCP when a killed server's socket file is left at its endpoint", async () => {
    // A server that serves no unix socket, at a port where a SIGKILLed one left its file.
    const tcpServer = make(undefined, {}, { rpcUnix: false });
    const { rpc } = await tcpServer.listen(['greeter'], greeter);
    const path = localSocketPath(rpc!)!;
    await leaveStaleSocket(path);
    try {
      const client = make();
      for (const name of ['Ann', 'Bo']) {
        await expect(client.call(greet(name), { timeout: 2000, address: rpc! })).resolves.toEqual({
          ok: true,
          result: `Hi, ${name}!`,
        });
      }
      expect(tcpServer.stats()).toMatchObject({ connections: 1, localConnections: 0 });
    } finally {
      await removeIfStale(path);
    }
  });

  it('refuses a local process that connects to the unix socket without the cluster secret, and names it so', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const peer = net.connect({ path: localSocketPath(rpc!)! });
    await new Promise<void>((resolve) => peer.once('connect', resolve));
    // A handshake hello of the right size with a wrong proof after it.
    peer.write(Buffer.concat([Buffer.from('SVCA\x01'), Buffer.alloc(32)]));
    peer.on('data', () => peer.write(Buffer.alloc(32)));
    await new Promise((resolve) => peer.once('close', resolve));
    expect(server.stats().refusedPeers).toBe(1);
    const refusal = logs.find((l) => l.level === 'warn' && /refused/.test(l.msg));
    expect(refusal?.fields).toMatchObject({ source: 'a local process (unix socket)' });
  });

  it('keeps its unix sockets in a folder only this user may enter, and removes one left by a killed server', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const dir = dirname(localSocketPath(rpc!)!);
    const st = statSync(dir);
    expect(st.uid).toBe(process.getuid!());
    expect(st.mode & 0o777).toBe(0o700);

    const stale = join(dir, `rpc-stale-test-${process.pid}.sock`);
    await leaveStaleSocket(stale);
    expect(await removeIfStale(stale)).toBe('removed');
    expect(existsSync(stale)).toBe(false);
    // Anything that is not a socket is left alone.
    const plain = join(dir, `rpc-plain-test-${process.pid}.sock`);
    writeFileSync(plain, 'not a socket');
    try {
      expect(await removeIfStale(plain)).toBe('other');
      expect(existsSync(plain)).toBe(true);
    } finally {
      unlinkSync(plain);
    }
  });

  it('never removes a socket file a live process listens on', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const path = localSocketPath(rpc!)!;
    expect(await removeIfStale(path)).toBe('live');
    expect(existsSync(path)).toBe(true);
    // Nor a listener of another process's.
    const other = join(dirname(path), `rpc-live-test-${process.pid}.sock`);
    const child = spawn(process.execPath, [
      '-e',
      `require('node:net').createServer().listen(${JSON.stringify(other)}, () => console.log('up'))`,
    ]);
    try {
      await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
      expect(await removeIfStale(other)).toBe('live');
      expect(existsSync(other)).toBe(true);
    } finally {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
      await removeIfStale(other);
    }
    await expect(make().call(greet('Ann'), { timeout: 2000, address: rpc! })).resolves.toEqual({
      ok: true,
      result: 'Hi, Ann!',
    });
    expect(server.stats()).toMatchObject({ localConnections: 1 });
  });

  describe('the unix socket of its own endpoint', () => {
    // A server's socket file is named after its endpoint: a server gets the name of a
    // killed one when it gets the same port (and host). Servers here are given the
    // endpoint their socket is named after, as the transport gives its published one.
    const servers: NetRpcServer[] = [];
    afterEach(async () => {
      await Promise.all(servers.splice(0).map((s) => s.close()));
    });

    function server(): NetRpcServer {
      const limits = limitsOf({});
      const s = new NetRpcServer({
        serializer: new MsgpackSerializer({ maxBytes: limits.maxFrameBytes }),
        maxFrameBytes: limits.maxFrameBytes,
        limits,
        budget: new FrameBudget(limits.maxFrameBytes),
        log: recordingLogger(logs),
        auth: new ClusterAuth({ cluster: 'test' }, { log: recordingLogger(logs) }),
        badFrame: () => {},
      });
      servers.push(s);
      return s;
    }

    it('takes the name over from a killed server whose file is left there', async () => {
      const endpoint = `tcp://127.0.0.1:${40000 + (process.pid % 20000)}`;
      const path = localSocketPath(endpoint)!;
      await leaveStaleSocket(path);
      const s = server();
      await s.listenLocal(endpoint, true);
      // It serves there: a connection to the file is one of its own.
      const peer = net.connect({ path }).on('error', () => {});
      while (s.localConnections === 0) await new Promise((r) => setTimeout(r, 5));
      peer.destroy();
      await s.close();
      expect(existsSync(path)).toBe(false);
    });

    it('leaves the file of a live process serving the same name, and serves TCP only', async () => {
      const endpoint = `tcp://127.0.0.1:${20000 + (process.pid % 20000)}`;
      const path = localSocketPath(endpoint)!;
      const child = spawn(process.execPath, [
        '-e',
        `require('node:net').createServer((s) => s.on('error', () => {}).end('other')).listen(${JSON.stringify(path)}, () => console.log('up'))`,
      ]);
      try {
        await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
        const s = server();
        await s.listenLocal(endpoint, true);
        expect(existsSync(path)).toBe(true);
        // The other process still answers there.
        const peer = net.connect({ path });
        const said = await new Promise<string>((resolve, reject) => {
          peer.once('data', (d) => resolve(String(d)));
          peer.once('error', reject);
        });
        peer.destroy();
        expect(said).toBe('other');
        expect(s.localConnections).toBe(0);
        expect(logs.find((l) => /another process serves/.test(l.msg))).toMatchObject({
          level: 'warn',
          fields: { path },
        });
      } finally {
        child.kill('SIGKILL');
        await new Promise((resolve) => child.once('exit', resolve));
        await removeIfStale(path);
      }
    });
  });

  it('sweeps the stale socket files beside its own, and leaves live ones, young ones, symlinks and other files', async () => {
    const dir = join(ownRuntime, 'sweep');
    const own = join(dir, 'rpc-own.sock');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { mode: 0o700 });
    const stale = ['a', 'b', 'c'].map((n) => join(dir, `rpc-stale-${n}.sock`));
    for (const path of stale) await leaveStaleSocket(path);
    const ownServer = await listenAt(own);
    const live = await listenAt(join(dir, 'rpc-live.sock'));
    // Left a minute ago, as files of processes killed before this one started are.
    const aMinuteAgo = new Date(Date.now() - 60_000);
    for (const name of readdirSync(dir)) utimesSync(join(dir, name), aMinuteAgo, aMinuteAgo);
    // Just bound: it may be a server's between its bind and its listen, which refuses too.
    await leaveStaleSocket(join(dir, 'rpc-young.sock'));
    symlinkSync(stale[0]!, join(dir, 'rpc-link.sock'));
    writeFileSync(join(dir, 'rpc-file.sock'), 'not a socket');
    // Not a file of the `net` transport's (the supervisor's control socket shares the folder).
    await leaveStaleSocket(join(dir, 'node-other.sock'));
    try {
      expect(await sweepStale(own)).toEqual({ looked: 4, removed: 3 });
      expect(readdirSync(dir).sort()).toEqual([
        'node-other.sock',
        'rpc-file.sock',
        'rpc-link.sock',
        'rpc-live.sock',
        'rpc-own.sock',
        'rpc-young.sock',
      ]);
      // Once old enough, the young one goes too.
      utimesSync(join(dir, 'rpc-young.sock'), aMinuteAgo, aMinuteAgo);
      expect(await sweepStale(own)).toEqual({ looked: 1, removed: 1 });
      expect(await sweepStale(own)).toEqual({ looked: 0, removed: 0 });
    } finally {
      await new Promise((resolve) => live.close(resolve));
      await new Promise((resolve) => ownServer.close(resolve));
    }
  });

  it('multiplexes many calls in flight on one connection and matches each reply', async () => {
    await serve('a');
    const client = make();
    const names = Array.from({ length: 500 }, (_, i) => `n${i}`);
    const replies = await Promise.all(names.map((n) => client.call(greet(n), { timeout: 5000 })));
    expect(replies.map((r) => (r.ok ? r.result : null))).toEqual(names.map((n) => `Hi, ${n}!`));
  });

  it('carries positional args when the caller sends them', async () => {
    let seen: RpcRequest | undefined;
    const record: RpcHandler = async (req) => {
      seen = req;
      return { ok: true, result: null };
    };
    const server = await serve('a', record);
    const { rpc } = await server.listen(['greeter'], record);
    const client = make();
    await client.call({ ...greet('x'), args: [1, 'two'] }, { timeout: 2000, address: rpc! });
    expect(seen?.args).toEqual([1, 'two']);
  });

  it('carries error replies as wire errors', async () => {
    const server = await serve('a');
    const client = make();
    const { rpc } = await server.listen(['greeter'], greeter);
    const reply = await client.call(
      { service: 'greeter', method: 'fail', params: {}, headers },
      { timeout: 2000, address: rpc! },
    );
    expect(reply).toEqual({
      ok: false,
      error: { code: 'E_USER', type: 'ValueError', message: 'nope' },
    });
  });

  it('fails a call that gets no answer with RpcTimeoutError', async () => {
    await serve('a');
    const client = make();
    await expect(
      client.call({ service: 'greeter', method: 'never', params: {}, headers }, { timeout: 100 }),
    ).rejects.toBeInstanceOf(RpcTimeoutError);
  });

  it('fails fast with UnknownServiceError when no instance is live', async () => {
    const client = make();
    await expect(client.call(greet('x'), { timeout: 5000 })).rejects.toBeInstanceOf(
      UnknownServiceError,
    );
  });

  it('answers UnknownServiceError for a service this endpoint does not serve', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen([], greeter);
    const client = make();
    const reply = await client.call(
      { service: 'other', method: 'm', params: {}, headers },
      { timeout: 2000, address: rpc! },
    );
    expect(reply.ok).toBe(false);
    expect(!reply.ok && reply.error.code).toBe(UnknownServiceError.code);
  });

  it('fails pending calls with ConnectionLostError when the server goes away, then reconnects', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const client = make();
    const pending = client.call(
      { service: 'greeter', method: 'never', params: {}, headers },
      { timeout: 10_000, address: rpc! },
    );
    // Let the request reach the server before it goes away.
    await client.call(greet('first'), { timeout: 2000, address: rpc! });
    // Awaited from before the close: the call may fail while the server is still closing (over
    // the unix socket the client hears of it first), and a rejection nothing awaits yet is an
    // unhandled one.
    const lost = expect(pending).rejects.toBeInstanceOf(ConnectionLostError);
    await server.close();
    await lost;

    const again = await serve('b');
    const { rpc: rpc2 } = await again.listen(['greeter'], greeter);
    await expect(client.call(greet('Bo'), { timeout: 2000, address: rpc2! })).resolves.toEqual({
      ok: true,
      result: 'Hi, Bo!',
    });
  });

  it('fails calls with ConnectionLostError when nothing listens at the address', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const { port } = probe.address() as net.AddressInfo;
    await new Promise<void>((r) => probe.close(() => r()));
    const client = make();
    await expect(
      client.call(greet('x'), { timeout: 2000, address: `tcp://127.0.0.1:${port}` }),
    ).rejects.toBeInstanceOf(ConnectionLostError);
  });

  it('sends new calls to the surviving instance after one drops', async () => {
    const a = await serve('a');
    await serve('b');
    const client = make();
    // Touch both instances so the client holds a connection to each.
    await client.call(greet('1'), { timeout: 2000 });
    await client.call(greet('2'), { timeout: 2000 });
    await a.close();
    // The dropped peer is still registered: only the eviction keeps calls off it.
    await new Promise((r) => setTimeout(r, 50));
    for (let i = 0; i < 6; i++) {
      await expect(client.call(greet(`${i}`), { timeout: 2000 })).resolves.toMatchObject({
        ok: true,
      });
    }
  });

  it('closes a connection that sends an oversized frame, counts and logs it once, and keeps serving', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const { host, port } = parseEndpoint(rpc!);
    for (let i = 0; i < 2; i++) {
      const raw = await authed(server, host, port);
      const closed = new Promise<void>((r) => raw.on('close', () => r()));
      raw.on('error', () => {});
      const header = Buffer.alloc(4);
      header.writeUInt32BE(1024 * 1024);
      raw.write(header);
      await closed;
    }
    expect(server.stats().badFrames).toBe(2);
    const warnings = logs.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(String(warnings[0]!.fields?.['source'])).toMatch(/^127\.0\.0\.1:\d+$/);

    const client = make();
    await expect(client.call(greet('ok'), { timeout: 2000 })).resolves.toMatchObject({ ok: true });
  });

  it('summarises repeated bad frames in one line instead of logging only the first of a host', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const { host, port } = parseEndpoint(rpc!);
    for (let i = 0; i < 5; i++) {
      const raw = await authed(server, host, port);
      const closed = new Promise<void>((r) => raw.on('close', () => r()));
      raw.on('error', () => {});
      raw.write(Buffer.alloc(4));
      await closed;
    }
    await server.close();
    const warnings = logs
      .filter((l) => l.level === 'warn')
      .map((l) => [l.msg, l.fields?.['count']]);
    expect(warnings).toEqual([
      ['bad rpc frame: closed its connection (more are summarised every 10 s)', undefined],
      ['4 more: bad rpc frame: closed its connection', 4],
    ]);
  });

  it('closes its own idle connections before the server would, without leaving the peer out of its picks', async () => {
    const server = await serve('a');
    const client = make(new MemoryRegistry(store), { idleTimeout: 300 });
    await expect(client.call(greet('one'), { timeout: 2000 })).resolves.toMatchObject({ ok: true });
    expect(server.stats().connections).toBe(1);
    await new Promise((r) => setTimeout(r, 500));
    expect(server.stats().connections).toBe(0);
    // The next call opens a new connection to the same, still picked, instance.
    await expect(client.call(greet('two'), { timeout: 2000 })).resolves.toEqual({
      ok: true,
      result: 'Hi, two!',
    });
    expect(logs.filter((l) => l.level === 'warn')).toEqual([]);
  });

  it('closes a connection that sends bytes that are not MessagePack or not a request', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const { host, port } = parseEndpoint(rpc!);
    const bodies = [Buffer.from([0xc1]), new MsgpackSerializer().encode({ hello: 1 })];
    for (const body of bodies) {
      const raw = await authed(server, host, port);
      raw.on('error', () => {});
      const closed = new Promise<void>((r) => raw.on('close', () => r()));
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      raw.write(Buffer.concat([header, body]));
      await closed;
    }
    expect(server.stats().badFrames).toBe(2);
  });

  /** A raw connection to `server`'s port, past the cluster handshake. */
  function authed(server: NetRpcTransport, host: string, port: number): Promise<net.Socket> {
    const raw = net.connect({ host, port });
    return new Promise((resolve, reject) =>
      server.auth.connect(raw, `tcp://${host}:${port}`, {
        ready: () => resolve(raw),
        failed: reject,
      }),
    );
  }

  /** Sends one frame of `message` on a raw connection and resolves with the first frame back. */
  async function rawExchange(
    server: NetRpcTransport,
    endpoint: string,
    message: unknown[],
  ): Promise<unknown> {
    const { host, port } = parseEndpoint(endpoint);
    const raw = await authed(server, host, port);
    const body = new MsgpackSerializer().encode(message);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(body.length);
    try {
      return await new Promise<unknown>((resolve, reject) => {
        raw.on('error', reject);
        raw.once('data', (chunk: Buffer) =>
          resolve(new MsgpackSerializer().decode(chunk.subarray(4))),
        );
        raw.write(Buffer.concat([header, body]));
      });
    } finally {
      raw.destroy();
    }
  }

  it('answers a well-framed request with missing fields by MalformedRequest, not by closing', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const reply = await rawExchange(server, rpc!, [0, 7, 'greeter']);
    expect(reply).toMatchObject([2, 7, { code: 'SVC_ERR_MALFORMED_REQUEST' }]);
    expect(server.stats().badFrames).toBe(0);
  });

  it('answers a request whose timeout is not a finite number by MalformedRequest', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const reply = await rawExchange(server, rpc!, [
      0,
      9,
      'greeter',
      'greet',
      {},
      headers,
      Infinity,
    ]);
    expect(reply).toMatchObject([2, 9, { code: 'SVC_ERR_MALFORMED_REQUEST' }]);
  });

  it('closes a connection that grants a stream credit that is not a count of items', async () => {
    const server = await serve('a');
    const { rpc } = await server.listen(['greeter'], greeter);
    const { host, port } = parseEndpoint(rpc!);
    for (const n of [0, -1, 1.5, 'many', 2 ** 40]) {
      const raw = await authed(server, host, port);
      raw.on('error', () => {});
      const closed = new Promise<void>((r) => raw.on('close', () => r()));
      const body = new MsgpackSerializer().encode([5, 1, n]);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(body.length);
      raw.write(Buffer.concat([header, body]));
      await closed;
    }
    expect(server.stats().badFrames).toBe(5);
  });

  it('rejects an address that is not tcp://host:port', () => {
    expect(() => parseEndpoint('tcp://nohost')).toThrow(/bad rpc endpoint/);
    expect(parseEndpoint('tcp://[::1]:80')).toEqual({ host: '::1', port: 80, tls: false });
  });
});

const conformanceStore = new MemoryRegistryStore();
const quiet: Logger = recordingLogger([]);
describeRpcTransport('net', {
  create: async () => {
    const registry = new MemoryRegistry(conformanceStore);
    const ctx = { cluster: 'conformance', bindHost: '127.0.0.1', log: quiet, clientName: 'c' };
    return { rpc: new NetRpcTransport(registry, ctx), registry };
  },
});
