import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer, Router } from 'zeromq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { ConfigError, ConnectionLostError, DecodeError, MalformedRequestError } from '../errors.js';
import { NotDeliveredError } from './failover.js';
import { LocalRegistry } from '../registry/local.js';
import { ClusterAuth } from '../security/auth.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { CaptureLogger } from '../testing/capture-log.js';
import {
  describeRpcTransport,
  eventually,
  makeRecord,
  sleep,
  uniqueName,
} from '../testing/conformance/index.js';
import { createRpcTransport } from '../backends.js';
import { CLOSE_HANDSHAKE_MS } from '../zmq/responder.js';
import { ZmqRpcTransport } from './zmq.js';

const dir = mkdtempSync(join(tmpdir(), 'svc-zmq-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function context(log = new CaptureLogger()): BackendContext {
  return { cluster: 'test', bindHost: '127.0.0.1', log, clientName: 'test' };
}

describeRpcTransport('zmq', {
  create: async () => {
    const registry = await LocalRegistry.open(context(), { dir });
    return { rpc: await ZmqRpcTransport.create(registry, context()), registry };
  },
});

const headers = { traceId: 't', callIdStack: [], data: {} };

describe('ZmqRpcTransport', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  async function transport(log = new CaptureLogger(), limits?: BackendContext['limits']) {
    const registry = await LocalRegistry.open(context(log), { dir });
    const rpc = await ZmqRpcTransport.create(registry, {
      ...context(log),
      ...(limits ? { limits } : {}),
    });
    cleanup.push(
      () => registry.close(),
      () => rpc.close(),
    );
    return rpc;
  }

  it('is what createRpcTransport("zmq") makes, bound on the loopback address', async () => {
    const registry = await LocalRegistry.open(context(), { dir });
    const rpc = await createRpcTransport('zmq', registry, context());
    cleanup.push(
      () => registry.close(),
      () => rpc.close(),
    );
    expect(rpc.kind).toBe('zmq');
    const endpoints = await rpc.listen(['X'], async () => ({ ok: true, result: 1 }));
    expect(endpoints['rpc']).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a bind host this machine does not have with a ConfigError naming it', async () => {
    const registry = await LocalRegistry.open(context(), { dir });
    // 192.0.2.1 is TEST-NET-1: documentation only, never an address of this host.
    const ctx = { ...context(), bindHost: '192.0.2.1' };
    const rpc = await ZmqRpcTransport.create(registry, ctx);
    cleanup.push(
      () => registry.close(),
      () => rpc.close(),
    );
    const err: unknown = await rpc
      .listen(['X'], async () => ({ ok: true, result: 1 }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe(
      'cannot bind the rpc socket on 192.0.2.1: EADDRNOTAVAIL (address not available on this host)',
    );
  });

  it('counts, logs once and drops garbage frames, and serves on', async () => {
    const log = new CaptureLogger();
    const server = await transport(log);
    const { rpc: endpoint } = await server.listen(['Echo'], async (req) => ({
      ok: true,
      result: req.params,
    }));
    // A member of the cluster (it holds the keys) that sends garbage.
    const raw = rawCaller(endpoint!);
    await raw.send(Buffer.from('this is not MessagePack \xc1\xc1'));
    await raw.send([Buffer.from('two'), Buffer.from('frames')]);
    await raw.send(Buffer.from([0xc1]));
    const serializer = new MsgpackSerializer();
    // A well-formed envelope carrying a request of the wrong shape gets a clear refusal.
    await raw.send(serializer.encode({ i: 7, q: { service: 'Echo' } }));
    const [reply] = await raw.receive();
    const decoded = serializer.decode(reply!) as { i: number; e: { code: string } };
    expect(decoded.i).toBe(7);
    expect(decoded.e.code).toBe(MalformedRequestError.code);
    expect(await eventually(() => server.badFrames === 4)).toBe(true);
    expect(log.find('warn', 'bad frame')).toHaveLength(1);

    const client = await transport();
    await expectStillServes(client, endpoint!);
  });

  it('answers a request too deep or over the size limit with SVC_ERR_DECODE instead of dropping it, and refuses to send one over the limit', async () => {
    const server = await transport();
    const { rpc: endpoint } = await server.listen(['Echo'], async (req) => ({
      ok: true,
      result: req.params,
    }));
    // A member of the cluster (it holds the keys) that sends what cannot be decoded.
    const raw = rawCaller(endpoint!);
    const serializer = new MsgpackSerializer({ maxBytes: 64 * 1024 * 1024 });
    // 100,000 nested lists: more than the decoder's stack takes.
    // { i: 41, q: [[[...null]]] }
    const deep = Buffer.concat([
      Buffer.from([0x82, 0xa1, 0x69, 41, 0xa1, 0x71]),
      Buffer.alloc(100_000, 0x91),
      Buffer.from([0xc0]),
    ]);
    await raw.send(deep);
    const big = serializer.encode({ i: 300, q: { params: 'x'.repeat(17 * 1024 * 1024) } });
    await raw.send(big);
    const replies = new Map<number, { code: string; message: string }>();
    for (let n = 0; n < 2; n++) {
      const [reply] = await raw.receive();
      const decoded = serializer.decode(reply!) as {
        i: number;
        e: { code: string; message: string };
      };
      replies.set(decoded.i, decoded.e);
    }
    expect(replies.get(41)?.code).toBe(DecodeError.code);
    expect(replies.get(300)?.code).toBe(DecodeError.code);
    expect(replies.get(300)?.message).toMatch(/over the \d+-byte limit/);
    expect(server.badFrames).toBe(2);

    const client = await transport();
    const err = await client
      .call(
        { service: 'Echo', method: 'echo', params: { x: 'y'.repeat(17 * 1024 * 1024) }, headers },
        { timeout: 5000, address: endpoint! },
      )
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(
      /^request of \d+ bytes is over the \d+-byte message limit$/,
    );
    await expectStillServes(client, endpoint!);
  });

  it('answers every one of many calls in flight from one caller (no reply dropped at a queue limit)', async () => {
    const server = await transport();
    const { rpc: endpoint } = await server.listen(['Echo'], (req) => ({
      ok: true,
      result: req.params,
    }));
    const client = await transport();
    // A burst of replies to one peer queues faster than ZeroMQ's I/O thread writes it.
    const answered = await Promise.all(
      Array.from({ length: 500 }, (_, n) =>
        client
          .call(
            { service: 'Echo', method: 'echo', params: { n }, headers },
            { timeout: 5000, address: endpoint! },
          )
          .then(
            (r) => (r.ok ? (r.result as { n: number }).n : -1),
            () => -1,
          ),
      ),
    );
    expect(answered.filter((n) => n === -1)).toHaveLength(0);
    expect(answered).toEqual(Array.from({ length: 500 }, (_, n) => n));
  });

  it('keeps the replies to a caller that reads late in order, past what ZeroMQ queues for it, and drops none', async () => {
    const log = new CaptureLogger();
    const server = await transport(log);
    const { rpc: endpoint } = await server.listen(['Echo'], (req) => ({
      ok: true,
      result: req.params,
    }));
    const keys = new ClusterAuth({ cluster: 'test' }, { log: new CaptureLogger() }).curve();
    // It takes in one message and reads nothing for a while: the replies wait in the server.
    const slow = new Dealer({
      linger: 0,
      receiveHighWaterMark: 1,
      curveServerKey: keys.serverPublic,
      curvePublicKey: keys.clientPublic,
      curveSecretKey: keys.clientSecret,
    });
    cleanup.push(() => slow.close());
    slow.connect(endpoint!);
    const serializer = new MsgpackSerializer();
    const pad = 'p'.repeat(64 * 1024);
    // 300 replies of 64 KiB: far more than ZeroMQ's 64 messages and the sockets' buffers hold.
    for (let n = 0; n < 300; n++) {
      await slow.send(
        serializer.encode({
          i: n,
          q: { service: 'Echo', method: 'echo', params: { n, pad }, headers, timeout: 10_000 },
        }),
      );
    }
    await sleep(500);
    const got: number[] = [];
    while (got.length < 300) {
      const [bytes] = await slow.receive();
      const reply = serializer.decode(bytes!) as { i: number; r: { result: { n: number } } };
      got.push(reply.r.result.n);
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, n) => n));
    expect(log.find('warn', 'does not read its replies')).toHaveLength(0);
  });

  /**
   * A ROUTER of the cluster (it holds the CURVE server key) that takes in
   * one message and reads nothing until the test says: an instance that
   * does not read its requests, or reads them late.
   */
  async function rawServer(): Promise<{ router: Router; endpoint: string }> {
    const keys = new ClusterAuth({ cluster: 'test' }, { log: new CaptureLogger() }).curve();
    const router = new Router({
      linger: 0,
      receiveHighWaterMark: 1,
      curveServer: true,
      curveSecretKey: keys.serverSecret,
    });
    cleanup.push(() => router.close());
    await router.bind('tcp://127.0.0.1:0');
    return { router, endpoint: router.lastEndpoint! };
  }

  /** `count` calls of `pad` bytes each to `endpoint`, made in order; what each ends with. */
  function burst(client: ZmqRpcTransport, endpoint: string, count: number, pad: number) {
    const text = 'p'.repeat(pad);
    return Array.from({ length: count }, (_, n) =>
      client.call(
        { service: 'Echo', method: 'echo', params: { n, pad: text }, headers },
        { timeout: 20_000, address: endpoint },
      ),
    );
  }

  it('keeps the requests to an instance that reads late in order, past what ZeroMQ queues for it, and drops none', async () => {
    const log = new CaptureLogger();
    const client = await transport(log);
    const { router, endpoint } = await rawServer();
    // 300 requests of 64 KiB: far more than ZeroMQ's 64 messages and the sockets' buffers hold.
    const calls = burst(client, endpoint, 300, 64 * 1024);
    await sleep(500);
    const serializer = new MsgpackSerializer();
    const got: number[] = [];
    while (got.length < 300) {
      const [routingId, bytes] = await router.receive();
      const msg = serializer.decode(bytes!) as { i: number; q: { params: { n: number } } };
      got.push(msg.q.params.n);
      await router.send([
        routingId!,
        serializer.encode({ i: msg.i, r: { ok: true, result: msg.q.params.n } }),
      ]);
    }
    expect(got).toEqual(Array.from({ length: 300 }, (_, n) => n));
    const results = await Promise.all(calls);
    expect(results.map((r) => (r.ok ? r.result : -1))).toEqual(got);
    expect(log.find('warn', 'does not read')).toHaveLength(0);
  });

  it('hears every reply that comes while its last request waits for room in ZeroMQ (no wake-up lost)', async () => {
    const client = await transport();
    // In this process, so that the order of what happens is the test's (inproc, no threads):
    // ZeroMQ holds 64 + 2 requests for it, and the instance reads 33 at a time.
    const router = new Router({ linger: 0, receiveHighWaterMark: 2 });
    cleanup.push(() => router.close());
    const endpoint = `inproc://${uniqueName('svc-zmq-wakeup-')}`;
    await router.bind(endpoint);
    const serializer = new MsgpackSerializer();
    // One more than ZeroMQ holds: the last one waits for room, and it is the last one sent.
    const count = 67;
    const calls = Array.from({ length: count }, (_, n) =>
      client
        .call(
          { service: 'Echo', method: 'echo', params: { n }, headers },
          { timeout: 3000, address: endpoint },
        )
        .then(
          (r) => (r.ok ? (r.result as number) : -1),
          () => -1,
        ),
    );
    await sleep(50);
    let sending: Promise<unknown> = Promise.resolve();
    const send = (frames: Buffer[]) => (sending = sending.then(() => router.send(frames)));
    // The instance reads all it holds (the caller hears there is room) and answers the first
    // call at once; the others once the caller has taken that reply in and waits for more.
    // A caller whose last send waited in zeromq.js took their signal, unseen, in the same
    // callback that let that send through: they stayed in ZeroMQ, and its calls timed out.
    const held: Buffer[][] = [];
    let released = false;
    void calls[0]!.then(() => {
      released = true;
      for (const frames of held.splice(0)) void send(frames);
    });
    for (let seen = 0; seen < count; seen++) {
      const [routingId, bytes] = await router.receive();
      const msg = serializer.decode(bytes!) as { i: number; q: { params: { n: number } } };
      const reply = [
        routingId!,
        serializer.encode({ i: msg.i, r: { ok: true, result: msg.q.params.n } }),
      ];
      if (seen === 0 || released) void send(reply);
      else held.push(reply);
    }
    expect(await Promise.all(calls)).toEqual(Array.from({ length: count }, (_, n) => n));
  });

  it('gives up an instance that does not read its requests past limits.write_buffer_bytes, and calls others on', async () => {
    const log = new CaptureLogger();
    const client = await transport(log, { writeBufferBytes: 1024 * 1024 });
    const { endpoint } = await rawServer();
    // Requests of 64 KiB, a few at a time, until it is given up: ZeroMQ takes 64 and the
    // sockets' buffers some MiB, then they wait in the caller, up to 1 MiB.
    const text = 'p'.repeat(64 * 1024);
    const calls: Array<Promise<Error | undefined>> = [];
    const warned = () => log.find('warn', 'does not read').length > 0;
    while (!warned() && calls.length < 2000) {
      const n = calls.length;
      calls.push(
        client
          .call(
            { service: 'Echo', method: 'echo', params: { n, pad: text }, headers },
            { timeout: 20_000, address: endpoint },
          )
          .then(
            () => undefined,
            (err: unknown) => err as Error,
          ),
      );
      if (n % 8 === 7) await sleep(1);
    }
    const started = Date.now();
    const outcomes = await Promise.all(calls);
    expect(Date.now() - started).toBeLessThan(1000);
    // None answered, none waited for its timeout: each failed with why.
    expect(outcomes.filter((e) => e === undefined)).toHaveLength(0);
    for (const err of outcomes) {
      expect(err).toBeInstanceOf(ConnectionLostError);
      expect(err!.message).toMatch(
        new RegExp(
          `^Echo\\.echo: ${endpoint.replace(/\./g, '\\.')} does not read its requests \\(\\d+ bytes unsent, over the 1048576-byte limit\\)$`,
        ),
      );
    }
    // Those ZeroMQ never took are told apart: they never left this process.
    const undelivered = outcomes.filter((e) => e!.cause instanceof NotDeliveredError);
    expect(undelivered.length).toBeGreaterThan(0);
    expect(undelivered.length).toBeLessThan(calls.length);
    const warnings = log.find('warn', 'does not read');
    expect(warnings.map((w) => w.msg)).toEqual([
      'zmq rpc server does not read: dropping the connection',
    ]);
    expect(warnings[0]).toMatchObject({ endpoint, limit: 1024 * 1024 });
    // The caller serves on: a call to an instance that reads is answered.
    const server = await transport();
    const { rpc: other } = await server.listen(['Echo'], (req) => ({
      ok: true,
      result: req.params,
    }));
    await expect(
      client.call(
        { service: 'Echo', method: 'echo', params: { n: 1 }, headers },
        { timeout: 5000, address: other! },
      ),
    ).resolves.toEqual({ ok: true, result: { n: 1 } });
  });

  it('fails a call to an address nobody listens on as never delivered (a ConnectionLostError), not a timeout', async () => {
    const probe = await transport();
    const { rpc: endpoint } = await probe.listen(['Gone'], async () => ({ ok: true, result: 1 }));
    await probe.close();
    const client = await transport();
    await expect(
      client.call(
        { service: uniqueName('Gone'), method: 'x', params: {}, headers },
        { timeout: 10_000, address: endpoint! },
      ),
      // Told apart, as on `net`: nothing ran (an @http route answers it 503, to retry).
    ).rejects.toBeInstanceOf(NotDeliveredError);
  });

  it('answers the calls running when it stops, though the reply leaves just as it closes', async () => {
    // A reply and the connection's end in one read of the caller's: its DEALER (ZMQ_IMMEDIATE)
    // dropped the reply with the connection, three times in ten, and the call failed as lost.
    const client = await transport();
    const service = uniqueName('Closing');
    const outcomes: unknown[] = [];
    for (let round = 0; round < 30; round++) {
      const server = await transport();
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let running!: () => void;
      const started = new Promise<void>((resolve) => (running = resolve));
      const { rpc: endpoint } = await server.listen([service], async () => {
        running();
        await held;
        return { ok: true, result: round };
      });
      const call = client
        .call(
          { service, method: 'work', params: {}, headers },
          { timeout: 5000, address: endpoint! },
        )
        .then(
          (reply) => (reply.ok ? reply.result : reply.error),
          (err: unknown) => err,
        );
      await started;
      const closing = server.close();
      release();
      outcomes.push(await call);
      await closing;
    }
    expect(outcomes).toEqual(Array.from({ length: 30 }, (_, i) => i));
  });

  /** A DEALER of the cluster (it holds the keys) that sends and reads what the test says. */
  function rawCaller(endpoint: string): Dealer {
    const keys = new ClusterAuth({ cluster: 'test' }, { log: new CaptureLogger() }).curve();
    const raw = new Dealer({
      linger: 0,
      curveServerKey: keys.serverPublic,
      curvePublicKey: keys.clientPublic,
      curveSecretKey: keys.clientSecret,
    });
    cleanup.push(() => raw.close());
    raw.connect(endpoint);
    return raw;
  }

  it('closes once a caller has acknowledged the notice after its last reply, not on an earlier or repeated acknowledgement', async () => {
    const server = await transport();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const { rpc: endpoint } = await server.listen(['Echo'], async () => {
      await held;
      return { ok: true, result: 'done' };
    });
    const raw = rawCaller(endpoint!);
    const serializer = new MsgpackSerializer();
    const next = async () => serializer.decode((await raw.receive())[0]!);
    // An acknowledgement of a notice never sent is a bad frame.
    await raw.send(serializer.encode({ a: 1 }));
    expect(await eventually(() => server.badFrames === 1)).toBe(true);
    await raw.send(
      serializer.encode({
        i: 1,
        q: { service: 'Echo', method: 'echo', params: {}, headers, timeout: 10_000 },
      }),
    );
    await sleep(100);
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    // Told at once; the acknowledgement (twice) does not cover the reply that comes after it.
    expect(await next()).toEqual({ g: 1 });
    await raw.send(serializer.encode({ a: 1 }));
    await raw.send(serializer.encode({ a: 1 }));
    release();
    expect(await next()).toEqual({ i: 1, r: { ok: true, result: 'done' } });
    expect(await next()).toEqual({ g: 2 });
    await sleep(300);
    expect(closed).toBe(false);
    const acked = Date.now();
    await raw.send(serializer.encode({ a: 2 }));
    await closing;
    expect(Date.now() - acked).toBeLessThan(CLOSE_HANDSHAKE_MS / 2);
    expect(server.badFrames).toBe(1);
  });

  it('does not wait past its bound for a caller that never acknowledges, however it keeps calling', async () => {
    const server = await transport();
    const { rpc: endpoint } = await server.listen(['Echo'], async () => ({ ok: true, result: 1 }));
    const raw = rawCaller(endpoint!);
    const serializer = new MsgpackSerializer();
    const request = (i: number) =>
      serializer.encode({
        i,
        q: { service: 'Echo', method: 'echo', params: {}, headers, timeout: 10_000 },
      });
    await raw.send(request(0));
    expect(serializer.decode((await raw.receive())[0]!)).toEqual({
      i: 0,
      r: { ok: true, result: 1 },
    });
    const started = Date.now();
    let closed = false;
    const closing = server.close().then(() => (closed = true));
    // It reads everything and acknowledges nothing, and calls on: each call is refused
    // (retryable) and followed by another notice.
    const got: unknown[] = [];
    const reading = (async () => {
      for await (const [bytes] of raw) got.push(serializer.decode(bytes!));
    })().catch(() => {});
    for (let i = 1; !closed; i++) {
      await raw.send(request(i));
      await sleep(50);
    }
    await closing;
    expect(Date.now() - started).toBeLessThan(CLOSE_HANDSHAKE_MS + 1000);
    raw.close();
    await reading;
    expect(got[0]).toEqual({ g: 1 });
    const refusals = got.filter((m) => (m as { i?: number }).i !== undefined);
    expect(refusals.length).toBeGreaterThan(0);
    for (const refusal of refusals) {
      expect(refusal).toMatchObject({ e: { code: 'SVC_ERR_CONTAINER_STOPPED' } });
    }
    expect(got).toContainEqual({ g: 2 });
  });

  it('closes an idle server at once, and one whose callers are idle after a round trip', async () => {
    const alone = await transport();
    await alone.listen(['Echo'], async () => ({ ok: true, result: 1 }));
    let started = Date.now();
    await alone.close();
    expect(Date.now() - started).toBeLessThan(CLOSE_HANDSHAKE_MS / 4);

    const server = await transport();
    const { rpc: endpoint } = await server.listen(['Echo'], async (req) => ({
      ok: true,
      result: req.params,
    }));
    const client = await transport();
    await expectStillServes(client, endpoint!);
    started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(CLOSE_HANDSHAKE_MS / 4);
    // The caller was told: it sends no new call there (nothing ran, the call may go elsewhere).
    await expect(
      client.call(
        { service: 'Echo', method: 'echo', params: {}, headers },
        { timeout: 5000, address: endpoint! },
      ),
    ).rejects.toBeInstanceOf(NotDeliveredError);
  });

  it('counts a message of a kind it does not know as a bad frame, and serves on', async () => {
    const server = await transport();
    const { rpc: endpoint } = await server.listen(['Echo'], async (req) => ({
      ok: true,
      result: req.params,
    }));
    const raw = rawCaller(endpoint!);
    const serializer = new MsgpackSerializer();
    await raw.send(serializer.encode({ i: 3, z: 1 }));
    await raw.send(serializer.encode({ z: 1 }));
    await raw.send(serializer.encode({ a: 'soon' }));
    expect(await eventually(() => server.badFrames === 3)).toBe(true);
    await expectStillServes(await transport(), endpoint!);
  });

  it('counts a reply of a kind it does not know as a bad frame, acknowledges a stop notice and calls that instance no more', async () => {
    // (No server in this process: its ZAP handler would refuse the raw one, which has no domain.)
    const client = await transport();
    const { router, endpoint } = await rawServer();
    const serializer = new MsgpackSerializer();
    const call = client.call(
      { service: 'Echo', method: 'echo', params: { n: 1 }, headers },
      { timeout: 5000, address: endpoint },
    );
    const [routingId, bytes] = await router.receive();
    const { i } = serializer.decode(bytes!) as { i: number };
    for (const odd of [{ i, z: 1 }, { z: 1 }, { g: 'soon' }, { g: 0 }]) {
      await router.send([routingId!, serializer.encode(odd)]);
    }
    await router.send([routingId!, serializer.encode({ i, r: { ok: true, result: 'one' } })]);
    expect(await call).toEqual({ ok: true, result: 'one' });
    expect(client.badFrames).toBe(4);
    // A notice it knows: acknowledged by its number, and no new call goes there.
    await router.send([routingId!, serializer.encode({ g: 7 })]);
    const [, ack] = await router.receive();
    expect(serializer.decode(ack!)).toEqual({ a: 7 });
    await expect(
      client.call(
        { service: 'Echo', method: 'echo', params: {}, headers },
        { timeout: 5000, address: endpoint },
      ),
    ).rejects.toThrow(`the instance at ${endpoint} is stopping`);
    expect(client.badFrames).toBe(4);
  });

  it('lets a stopping server finish its calls while it turns new ones to the other instances', async () => {
    const service = uniqueName('Stopping');
    const a = await transport();
    const b = await transport();
    const registry = await LocalRegistry.open(context(), { dir });
    cleanup.push(() => registry.close());
    let slowStarted!: () => void;
    const started = new Promise<void>((resolve) => (slowStarted = resolve));
    const { rpc: endpointA } = await a.listen([service], async (req) => {
      if (req.method === 'slow') {
        slowStarted();
        await sleep(800);
      }
      return { ok: true, result: 'a' };
    });
    const { rpc: endpointB } = await b.listen([service], async () => ({ ok: true, result: 'b' }));
    await registry.register(makeRecord(service, { endpoints: { rpc: endpointA! } }));
    await registry.register(makeRecord(service, { endpoints: { rpc: endpointB! } }));
    const client = await transport();
    const slow = client.call(
      { service, method: 'slow', params: {}, headers },
      { timeout: 5000, address: endpointA! },
    );
    // Closed once the call runs there: a loaded machine may take longer than a moment to
    // connect (the CURVE handshake) and deliver it, and a closing server takes no new call.
    await started;
    const closing = a.close();
    const results: unknown[] = [];
    for (let i = 0; i < 6; i++) {
      const reply = await client.call(
        { service, method: 'who', params: {}, headers },
        { timeout: 5000 },
      );
      results.push(reply.ok ? reply.result : reply.error);
    }
    expect(results).toEqual(['b', 'b', 'b', 'b', 'b', 'b']);
    expect(await slow).toEqual({ ok: true, result: 'a' });
    await closing;
  });
});

/** The server still answers a plain call after what the test sent it. */
async function expectStillServes(
  client: { call: ZmqRpcTransport['call'] },
  endpoint: string,
): Promise<void> {
  expect(
    await client.call(
      { service: 'Echo', method: 'echo', params: { still: 'alive' }, headers },
      { timeout: 5000, address: endpoint },
    ),
  ).toEqual({ ok: true, result: { still: 'alive' } });
}
