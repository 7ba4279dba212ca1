import * as net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Logger } from '../log/logger.js';
import { ClusterAuth } from './auth.js';
import { CLIENT_PROOF_BYTES, HELLO_BYTES } from './handshake.js';
import { Refusals } from './refusals.js';

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

const authWith = (secret: string, logs: Logged[] = [], timeoutMs = 2000) =>
  new ClusterAuth({ cluster: 'test', secret }, { log: recordingLogger(logs), timeoutMs });

interface Served {
  port: number;
  /** what each accepted peer sent after the handshake, once it closed */
  received: Buffer[];
  refused: () => number;
}

const servers: net.Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((r) => s.close(() => r()))));
});

/** A listener that runs the handshake and keeps what each authenticated peer sends. */
async function serve(auth: ClusterAuth): Promise<Served> {
  const received: Buffer[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    auth.accept(socket, 'test', (rest) => {
      const chunks = [rest];
      socket.on('data', (d: Buffer) => chunks.push(d));
      socket.on('end', () => {
        received.push(Buffer.concat(chunks));
        socket.end('bye');
      });
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    received,
    refused: () => auth.refused,
  };
}

function dial(auth: ClusterAuth, port: number): Promise<net.Socket> {
  const socket = net.connect({ host: '127.0.0.1', port });
  return new Promise((resolve, reject) =>
    auth.connect(socket, `tcp://127.0.0.1:${port}`, {
      ready: () => resolve(socket),
      failed: reject,
    }),
  );
}

/** Everything the peer sends until it closes. */
function drain(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (d: Buffer) => chunks.push(d));
  return new Promise((r) => socket.on('close', () => r(Buffer.concat(chunks))));
}

const until = async (cond: () => boolean) => {
  for (let i = 0; i < 400 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
};

describe('the cluster handshake', () => {
  it('lets two sides with the same secret talk, passing on what follows the proof untouched', async () => {
    const served = await serve(authWith('s'.repeat(32)));
    const socket = await dial(authWith('s'.repeat(32)), served.port);
    const reply = drain(socket);
    socket.end('request bytes');
    expect((await reply).toString()).toBe('bye');
    expect(served.received.map(String)).toEqual(['request bytes']);
    expect(served.refused()).toBe(0);
  });

  it('refuses a client with another secret, and the client says the peer does not know its secret', async () => {
    const logs: Logged[] = [];
    const served = await serve(authWith('s'.repeat(32), logs));
    await expect(dial(authWith('t'.repeat(32)), served.port)).rejects.toThrow(
      /cannot authenticate with tcp:\/\/127\.0\.0\.1:\d+: the peer does not know this cluster secret/,
    );
    await until(() => served.refused() === 1);
    expect(served.received).toEqual([]);
    expect(logs[0]).toMatchObject({ level: 'warn' });
    expect(logs[0]!.msg).toMatch(/refused a peer on the test listener/);
  });

  it('refuses a peer that sends a request instead of a handshake, reading no more than a hello', async () => {
    const served = await serve(authWith('s'.repeat(32)));
    const raw = net.connect({ port: served.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    const got = drain(raw);
    // A net frame of an RPC request, as an old or foreign client would send it.
    raw.write(Buffer.concat([Buffer.from([0, 0, 0, 60]), Buffer.alloc(60, 0x93)]));
    expect((await got).length).toBe(0);
    await until(() => served.refused() === 1);
    expect(served.received).toEqual([]);
    expect(HELLO_BYTES).toBeLessThan(64);
  });

  it('refuses a client that replays the proof it saw on another connection', async () => {
    const auth = authWith('s'.repeat(32));
    const served = await serve(auth);
    // Record a legitimate client's whole byte stream...
    const sent: Buffer[] = [];
    const good = net.connect({ port: served.port, host: '127.0.0.1' });
    const write = good.write.bind(good);
    good.write = (chunk: Buffer, ...rest: never[]) => {
      sent.push(Buffer.from(chunk));
      return write(chunk, ...rest);
    };
    await new Promise<void>((resolve, reject) =>
      authWith('s'.repeat(32)).connect(good, 'good', { ready: () => resolve(), failed: reject }),
    );
    good.destroy();
    expect(sent.map((b) => b.length)).toEqual([HELLO_BYTES, CLIENT_PROOF_BYTES]);
    // ...and play it again: the server chose a new nonce, so the old proof is wrong.
    const replay = net.connect({ port: served.port, host: '127.0.0.1' });
    replay.on('error', () => {});
    const closed = drain(replay);
    replay.write(sent[0]!);
    replay.once('data', () => replay.write(sent[1]!));
    await closed;
    await until(() => served.refused() === 1);
    // Only the legitimate connection got through (and sent nothing).
    expect(served.received.map(String)).toEqual(['']);
  });

  it('drops a peer that says nothing within the handshake timeout', async () => {
    const served = await serve(authWith('s'.repeat(32), [], 200));
    const raw = net.connect({ port: served.port, host: '127.0.0.1' });
    raw.on('error', () => {});
    const started = Date.now();
    await drain(raw);
    expect(Date.now() - started).toBeLessThan(2000);
    await until(() => served.refused() === 1);
  });

  it('fails a client whose peer is not an svc listener, without sending it anything else', async () => {
    const got: Buffer[] = [];
    const server = net.createServer((s) => {
      s.on('data', (d: Buffer) => {
        got.push(d);
        s.write(Buffer.alloc(69, 0x41));
      });
    });
    servers.push(server);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const { port } = server.address() as net.AddressInfo;
    await expect(dial(authWith('s'.repeat(32)), port)).rejects.toThrow(
      /does not speak the svc handshake/,
    );
    expect(Buffer.concat(got).length).toBe(HELLO_BYTES);
  });
});

describe('refusals', () => {
  it('logs the first refusal at once and later ones as one summary with their count and sources', () => {
    const logs: Logged[] = [];
    const refusals = new Refusals(recordingLogger(logs), 60_000);
    for (let i = 0; i < 50; i++)
      refusals.record('rpc', `127.0.0.1:${4000 + i}`, 'sent no handshake');
    expect(logs).toHaveLength(1);
    expect(logs[0]!.msg).toBe('refused a peer on the rpc listener: it sent no handshake');
    refusals.flush();
    expect(logs).toHaveLength(2);
    expect(logs[1]!.msg).toBe(
      'refused 49 more peers that did not prove they belong to the cluster',
    );
    expect(logs[1]!.fields).toEqual({ sources: ['127.0.0.1 (49)'], refused: 50 });
    refusals.flush();
    expect(logs).toHaveLength(2);
  });
});
