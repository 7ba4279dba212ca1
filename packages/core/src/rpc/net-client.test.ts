import { createHmac, randomBytes } from 'node:crypto';
import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { ConnectionLostError } from '../errors.js';
import { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
import { ClusterAuth } from '../security/auth.js';
import { HELLO_BYTES, handshakeKey } from '../security/handshake.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { NetRpcTransport } from './net.js';
import { FrameDecoder } from './net-frames.js';
import { localSocketPath } from './net-local.js';
import { REPLY_OK, REQUEST } from './net-wire.js';
import type { RpcRequest, RpcResponse } from './transport.js';
import { silent, useOwnRuntimeDir } from './test-support.js';

// The client side of `net` against servers written here byte by byte: a
// plain socket (TCP or unix) is read through `onread` into one buffer that
// every read overwrites, so what the client keeps of a read (an unfinished
// frame, the handshake's bytes, a decoded binary value) must be a copy.

// This file's unix sockets go to a runtime folder of its own.
useOwnRuntimeDir();

const SECRET = 'the cluster secret of these tests';
const authWith = (secret: string) =>
  new ClusterAuth({ cluster: 'test', secret }, { log: silent, timeoutMs: 2000 });
const msgpack = new MsgpackSerializer();
const headers = { traceId: 't1', callIdStack: [], data: {} };
const ask = (params: Record<string, unknown> = {}): RpcRequest => ({
  service: 'fake',
  method: 'get',
  params,
  headers,
});

/** A frame as the server writes it: length, then the MessagePack body. */
function frame(message: unknown[]): Buffer {
  const body = msgpack.encode(message);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  return Buffer.concat([header, body]);
}

/**
 * Resolves after a poll phase of the event loop has run: the client, in
 * this process, has read what was written before (loopback and unix writes
 * land in the peer's receive queue at once), so the next write is a read
 * of its own.
 */
const nextRead = () => new Promise<void>((r) => setImmediate(() => setImmediate(r)));

/** Writes `bytes` cut at `cuts`, each part read by the client on its own. */
async function writeInParts(socket: net.Socket, bytes: Buffer, cuts: number[]): Promise<void> {
  let from = 0;
  for (const cut of [...cuts, bytes.length]) {
    socket.write(bytes.subarray(from, cut));
    from = cut;
    if (cut < bytes.length) await nextRead();
  }
}

/** Polls `what` until it holds (or the test's timeout ends it). */
async function until(what: () => boolean): Promise<void> {
  while (!what()) await new Promise((r) => setTimeout(r, 5));
}

/** One connection to a {@link fakeServer}, past the handshake. */
class Peer {
  readonly socket: net.Socket;
  readonly #requests: { id: number; params: Record<string, unknown> }[] = [];
  #wake: (() => void) | undefined;

  constructor(socket: net.Socket, rest: Buffer) {
    this.socket = socket;
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    const read = (chunk: Buffer) =>
      decoder.push(chunk, (body) => {
        const msg = msgpack.decode(body) as unknown[];
        if (msg[0] !== REQUEST) return;
        this.#requests.push({ id: msg[1] as number, params: msg[4] as Record<string, unknown> });
        this.#wake?.();
      });
    read(rest);
    socket.on('data', read);
  }

  /** The next `n` requests not yet taken, once they have all come. */
  async take(n: number): Promise<{ id: number; params: Record<string, unknown> }[]> {
    while (this.#requests.length < n) await new Promise<void>((r) => (this.#wake = r));
    return this.#requests.splice(0, n);
  }
}

interface FakeServer {
  endpoint: string;
  /** connections accepted at the TCP port and at the unix socket beside it */
  accepted: { tcp: number; unix: number };
}

const servers: net.Server[] = [];
const clients: NetRpcTransport[] = [];
afterEach(async () => {
  await Promise.allSettled(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

async function listen(server: net.Server, at: number | string): Promise<void> {
  servers.push(server);
  await new Promise<void>((r) =>
    typeof at === 'number' ? server.listen(at, '127.0.0.1', r) : server.listen(at, r),
  );
}

/**
 * A server at a `tcp://` endpoint, and at the unix socket beside it when
 * `unix` (where a client on this host then connects), that hands each
 * connection to `onSocket` as it comes (no handshake of its own).
 */
async function rawServer(
  unix: boolean,
  onSocket: (socket: net.Socket) => void,
): Promise<FakeServer> {
  const accepted = { tcp: 0, unix: 0 };
  const serverOf = (kind: 'tcp' | 'unix') =>
    net.createServer((socket) => {
      accepted[kind]++;
      socket.setNoDelay(true);
      socket.on('error', () => {});
      onSocket(socket);
    });
  const tcp = serverOf('tcp');
  await listen(tcp, 0);
  const endpoint = `tcp://127.0.0.1:${(tcp.address() as net.AddressInfo).port}`;
  if (unix) await listen(serverOf('unix'), localSocketPath(endpoint)!);
  return { endpoint, accepted };
}

/**
 * A {@link rawServer} that runs `onPeer` for each connection that passed
 * the handshake (with `auth`'s secret).
 */
function fakeServer(
  unix: boolean,
  onPeer: (peer: Peer) => unknown,
  auth = authWith(SECRET),
): Promise<FakeServer> {
  return rawServer(unix, (socket) =>
    auth.accept(socket, 'fake', (rest) => void onPeer(new Peer(socket, rest))),
  );
}

function client(
  options: { maxFrameBytes?: number } = {},
  limits: BackendContext['limits'] = {},
): NetRpcTransport {
  const c = new NetRpcTransport(
    new MemoryRegistry(new MemoryRegistryStore()),
    {
      cluster: 'test',
      bindHost: '127.0.0.1',
      log: silent,
      clientName: 'test',
      auth: authWith(SECRET),
      limits,
    },
    options,
  );
  clients.push(c);
  return c;
}

const resultOf = (r: RpcResponse): unknown => {
  if (!r.ok) throw new Error(`unexpected error reply: ${r.error.message}`);
  return r.result;
};

describe.each(['tcp', 'unix'] as const)('a net client reading over %s', (via) => {
  const unix = via === 'unix';
  const connectedBy = (server: FakeServer) =>
    expect(server.accepted).toEqual({ tcp: unix ? 0 : 1, unix: unix ? 1 : 0 });

  it('decodes two replies cut at every byte, and their binary results outlive the reads after them', async () => {
    // Each round: two calls, answered by one write of both replies cut in two.
    let cut = 1;
    let total = Infinity;
    const server = await fakeServer(unix, async (peer) => {
      while (cut < total) {
        const [a, b] = await peer.take(2);
        const bytes = Buffer.concat([
          frame([REPLY_OK, a!.id, a!.params['blob']]),
          frame([REPLY_OK, b!.id, { text: b!.params['text'], blob: b!.params['blob'] }]),
        ]);
        total = bytes.length;
        await writeInParts(peer.socket, bytes, [cut++]);
      }
    });
    const c = client();
    const calls: { sent: [Buffer, Buffer]; got: Promise<[RpcResponse, RpcResponse]> }[] = [];
    while (cut < total) {
      const sent: [Buffer, Buffer] = [randomBytes(24), randomBytes(24)];
      const options = { timeout: 5000, address: server.endpoint };
      const got = Promise.all([
        c.call(ask({ blob: sent[0] }), options),
        c.call(ask({ text: `round ${cut}`, blob: sent[1] }), options),
      ]);
      calls.push({ sent, got });
      await got;
    }
    expect(calls.length).toBeGreaterThan(40);
    // Checked only now, after every later round's reads went through the same buffer.
    for (const [round, { sent, got }] of calls.entries()) {
      const [first, second] = (await got).map(resultOf);
      expect(Buffer.isBuffer(first)).toBe(true);
      expect(first).toEqual(sent[0]);
      expect(second).toEqual({ text: `round ${round + 1}`, blob: sent[1] });
    }
    connectedBy(server);
  });

  it('hands many replies read at once to their calls, binary results intact after later reads', async () => {
    const server = await fakeServer(unix, async (peer) => {
      for (;;) {
        const requests = await peer.take(200);
        const replies = requests.map((r) => frame([REPLY_OK, r.id, r.params['blob']]));
        peer.socket.write(Buffer.concat(replies));
      }
    });
    const c = client();
    const options = { timeout: 5000, address: server.endpoint };
    const rounds = [0, 1, 2].map(() => Array.from({ length: 200 }, () => randomBytes(100)));
    const got: unknown[][] = [];
    for (const blobs of rounds) {
      const replies = await Promise.all(blobs.map((blob) => c.call(ask({ blob }), options)));
      got.push(replies.map(resultOf));
    }
    // Counted, not diffed: a failure here is hundreds of overwritten buffers.
    const intact = rounds.flatMap((blobs, r) =>
      blobs.filter((blob, i) => {
        const result = got[r]![i];
        return Buffer.isBuffer(result) && blob.equals(result);
      }),
    );
    expect(intact.length).toBe(600);
    connectedBy(server);
  });

  it('reads a binary result bigger than one read, whatever else the connection reads meanwhile', async () => {
    const big = randomBytes(1024 * 1024 + 7);
    const server = await fakeServer(unix, async (peer) => {
      const [first, second] = await peer.take(2);
      const whole = frame([REPLY_OK, first!.id, big]);
      const small = frame([REPLY_OK, second!.id, 'small']);
      // The big reply in three writes, the small one behind its first bytes' read.
      await writeInParts(peer.socket, Buffer.concat([whole, small]), [1000, whole.length - 5]);
    });
    const c = client({ maxFrameBytes: 2 * 1024 * 1024 });
    const options = { timeout: 5000, address: server.endpoint };
    const [first, second] = await Promise.all([c.call(ask(), options), c.call(ask(), options)]);
    expect(Buffer.compare(resultOf(first) as Buffer, big)).toBe(0);
    expect(resultOf(second)).toBe('small');
    expect(c.stats().partialFrameBytes).toBe(0);
    connectedBy(server);
  });

  it('keeps an unfinished reply intact while another connection reads, and holds both to the process budget', async () => {
    // 64 KiB frames, and a 64 KiB budget for every connection's unfinished frames together.
    const body = randomBytes(60 * 1024);
    const reply = (id: number) => frame([REPLY_OK, id, body]);
    let finish: (() => void) | undefined;
    const slow = await fakeServer(unix, async (peer) => {
      const [r] = await peer.take(1);
      const bytes = reply(r!.id);
      peer.socket.write(bytes.subarray(0, 30 * 1024));
      await new Promise<void>((go) => (finish = go));
      peer.socket.write(bytes.subarray(30 * 1024));
    });
    const greedy = await fakeServer(unix, async (peer) => {
      const [r] = await peer.take(1);
      peer.socket.write(reply(r!.id).subarray(0, 40 * 1024));
    });
    const c = client({ maxFrameBytes: 64 * 1024 }, { partialFrameBytes: 64 * 1024 });
    const slowCall = c.call(ask(), { timeout: 5000, address: slow.endpoint });
    await until(() => c.stats().partialFrameBytes === 30 * 1024);
    // The greedy peer's 40 KiB go through the same read buffer, and over the budget.
    await expect(c.call(ask(), { timeout: 5000, address: greedy.endpoint })).rejects.toThrow(
      ConnectionLostError,
    );
    expect(c.stats().badFrames).toBe(1);
    expect(c.stats().partialFrameBytes).toBe(30 * 1024);
    finish!();
    expect(Buffer.compare(resultOf(await slowCall) as Buffer, body)).toBe(0);
    expect(c.stats().partialFrameBytes).toBe(0);
  });

  it('refuses a reply frame over the size limit from its first four bytes, and fails the call', async () => {
    let closed: Promise<void> | undefined;
    const server = await fakeServer(unix, async (peer) => {
      closed = new Promise((r) => peer.socket.on('close', () => r()));
      await peer.take(1);
      const header = Buffer.alloc(4);
      header.writeUInt32BE(64 * 1024 + 1);
      // Only the header, cut in two: nothing of the body is needed to refuse it.
      await writeInParts(peer.socket, header, [2]);
    });
    const c = client({ maxFrameBytes: 64 * 1024 });
    await expect(c.call(ask(), { timeout: 5000, address: server.endpoint })).rejects.toThrow(
      ConnectionLostError,
    );
    expect(c.stats().badFrames).toBe(1);
    expect(c.stats().partialFrameBytes).toBe(0);
    await closed;
  });

  it('fails a call in flight with ConnectionLostError when the server ends the connection', async () => {
    const server = await fakeServer(unix, async (peer) => {
      await peer.take(1);
      peer.socket.end();
    });
    const c = client();
    await expect(c.call(ask(), { timeout: 5000, address: server.endpoint })).rejects.toThrow(
      ConnectionLostError,
    );
  });

  it('refuses a server that does not know the cluster secret, before sending it a request', async () => {
    let peers = 0;
    const server = await fakeServer(
      unix,
      () => peers++,
      authWith('another cluster, another secret'),
    );
    const c = client();
    await expect(c.call(ask(), { timeout: 5000, address: server.endpoint })).rejects.toThrow(
      /cannot authenticate with .*does not know this cluster secret/,
    );
    expect(peers).toBe(0);
    connectedBy(server);
  });

  it("reads the server's proof and the reply behind it cut at every byte", async () => {
    // The server's side of the handshake by hand: its proof and a reply to
    // the first call (id 1 on a new transport) in one stream of bytes.
    const key = handshakeKey(authWith(SECRET).secret());
    let cut = 1;
    let total = Infinity;
    const { endpoint, accepted } = await rawServer(unix, (socket) => {
      const chunks: Buffer[] = [];
      const onHello = (chunk: Buffer) => {
        chunks.push(chunk);
        const hello = Buffer.concat(chunks);
        if (hello.length < HELLO_BYTES) return;
        socket.off('data', onHello);
        socket.resume();
        const clientNonce = hello.subarray(5, HELLO_BYTES);
        const serverNonce = randomBytes(32);
        const mac = createHmac('sha256', key)
          .update('svc server')
          .update(clientNonce)
          .update(serverNonce)
          .digest();
        const bytes = Buffer.concat([
          Buffer.from('SVCA\x01', 'latin1'),
          serverNonce,
          mac,
          frame([REPLY_OK, 1, `cut at ${cut}`]),
        ]);
        total = bytes.length;
        void writeInParts(socket, bytes, [cut++]);
      };
      socket.on('data', onHello);
    });
    let rounds = 0;
    while (cut < total) {
      const at = cut;
      const c = client();
      const reply = await c.call(ask(), { timeout: 5000, address: endpoint });
      expect(resultOf(reply)).toBe(`cut at ${at}`);
      await c.close();
      rounds++;
    }
    expect(rounds).toBe(total - 1);
    expect(accepted).toEqual({ tcp: unix ? 0 : rounds, unix: unix ? rounds : 0 });
  });
});
