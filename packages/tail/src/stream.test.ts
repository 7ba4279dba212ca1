import { connect, type Socket } from 'node:net';
import {
  ClusterAuth,
  RecordLogger,
  type Instance,
  type InstanceRecord,
  type LogRecord,
} from '@svc/core';
import { describe, expect, it } from 'vitest';
import { SUBSCRIBED_LINE } from './connect.js';
import { LogFollower, parseTcpEndpoint } from './follow.js';
import { queryLogStream } from './query.js';
import { LogStream } from './stream.js';

const record = (msg: string): LogRecord => ({ time: Date.now(), level: 'info', msg });

const auth = new ClusterAuth({ cluster: 'test' }, { log: new RecordLogger([], {}) });

async function open(
  stream: LogStream,
  instance?: Instance,
): Promise<{ socket: Socket; endpoint: string }> {
  const { logs } = await stream.start(instance);
  const { host, port } = parseTcpEndpoint(logs!)!;
  const socket = connect({ host, port });
  // Its first line says it is subscribed; the socket is left paused behind it.
  const head = await new Promise<string>((r, j) =>
    auth.connect(socket, logs!, {
      ready: (rest) => {
        let got = rest.toString('utf8');
        const more = (chunk: Buffer) => {
          got += chunk.toString('utf8');
          if (!got.includes('\n')) return;
          socket.off('data', more).pause();
          r(got);
        };
        if (got.includes('\n')) r(got);
        else socket.on('data', more);
      },
      failed: (err) => j(err),
    }),
  );
  expect(head).toBe(SUBSCRIBED_LINE);
  expect(stream.subscribers).toBeGreaterThan(0);
  return { socket, endpoint: logs! };
}

/** A follower of one instance, `i1` of service S, whose log stream is at `logs`. */
function followOne(logs: string, got: LogRecord[], onJoin?: () => void): LogFollower {
  const listed = {
    id: 'i1',
    service: 'S',
    pid: process.pid,
    endpoints: { logs },
  } as unknown as InstanceRecord;
  return new LogFollower({
    auth,
    registry: { list: () => Promise.resolve([listed]) },
    services: [],
    onRecord: (r) => got.push(r),
    ...(onJoin ? { onJoin } : {}),
  });
}

describe('LogStream', () => {
  it('binds 127.0.0.1 on a port of its own and costs nothing without subscribers', async () => {
    const stream = new LogStream({ auth });
    const { logs } = await stream.start();
    try {
      expect(logs).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
      for (let i = 0; i < 1000; i++) stream.write(record(`r${i}`));
      expect(stream.dropped).toBe(0);
    } finally {
      await stream.stop();
    }
  });

  it('sends every record as one JSON line', async () => {
    const stream = new LogStream({ auth });
    const { socket } = await open(stream);
    try {
      let text = '';
      socket
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .resume();
      stream.write({ ...record('hello'), traceId: 't1', n: 1n });
      while (!text.endsWith('\n')) await new Promise((r) => setTimeout(r, 5));
      expect(JSON.parse(text)).toMatchObject({ msg: 'hello', traceId: 't1', n: '1' });
    } finally {
      socket.destroy();
      await stream.stop();
    }
  });

  it('drops records for a subscriber that stops reading instead of queueing without bound', async () => {
    const stream = new LogStream({ auth, maxQueuedBytes: 64 * 1024 });
    const { socket } = await open(stream);
    try {
      socket.pause();
      const big = 'x'.repeat(4096);
      for (let i = 0; i < 5000; i++) stream.write(record(big));
      expect(stream.dropped).toBeGreaterThan(0);
    } finally {
      socket.destroy();
      await stream.stop();
    }
  });

  it('stops reading the requests of a subscriber that does not read its replies, then drops it with a warning', async () => {
    const warnings: string[] = [];
    const big = Array.from({ length: 20 }, (_, i) => record(`${i}`.padEnd(10_000, 'x')));
    const instance = {
      id: 'i1',
      config: { bindHost: '127.0.0.1' },
      ring: { recent: () => big },
      metrics: { snapshot: () => ({}) },
      log: { warn: (msg: string) => warnings.push(msg) },
    } as unknown as Instance;
    const stream = new LogStream({
      auth,
      maxQueuedBytes: 64 * 1024,
      maxRepliesQueuedBytes: 1024 * 1024,
    });
    const { socket } = await open(stream, instance);
    try {
      socket.pause();
      // 400 requests of 40 bytes ask for 80 MB of replies.
      socket.write('{"op":"recent_logs","id":1}\n'.repeat(400));
      // The subscriber never reads: its connection is dropped on the server's side.
      for (let i = 0; i < 250 && stream.subscribers > 0; i++) {
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(warnings).toContain('log stream subscriber does not read its replies: dropping it');
      expect(stream.subscribers).toBe(0);
    } finally {
      socket.destroy();
      await stream.stop();
    }
  });

  it('cuts a huge record down to its standard fields', async () => {
    const stream = new LogStream({ auth, maxRecordBytes: 1000 });
    const { socket } = await open(stream);
    try {
      let text = '';
      socket
        .setEncoding('utf8')
        .on('data', (d: string) => (text += d))
        .resume();
      stream.write({ ...record('m'.repeat(5000)), service: 'S', blob: 'b'.repeat(5000) });
      while (!text.endsWith('\n')) await new Promise((r) => setTimeout(r, 5));
      const got = JSON.parse(text) as LogRecord;
      expect(got.service).toBe('S');
      expect(got['blob']).toBeUndefined();
      expect(got.msg).toMatch(/record of \d+ bytes cut\)$/);
    } finally {
      socket.destroy();
      await stream.stop();
    }
  });

  it('forgets a subscriber that goes away', async () => {
    const stream = new LogStream({ auth });
    const { socket } = await open(stream);
    socket.destroy();
    while (stream.subscribers > 0) await new Promise((r) => setTimeout(r, 5));
    stream.write(record('after'));
    await stream.stop();
    expect(stream.subscribers).toBe(0);
  });

  it('sends nothing to a peer without the cluster secret, and stops without waiting for one that stalls', async () => {
    // The stranger is closed when its handshake times out: 200 ms here, rather than the default 5 s.
    const impatient = new ClusterAuth(
      { cluster: 'test' },
      { log: new RecordLogger([], {}), timeoutMs: 200 },
    );
    const stream = new LogStream({ auth: impatient });
    const { logs } = await stream.start();
    const { host, port } = parseTcpEndpoint(logs!)!;
    const stranger = connect({ host, port });
    stranger.on('error', () => {});
    let received = 0;
    stranger.on('data', (d: Buffer) => (received += d.length));
    const closed = new Promise<void>((r) => stranger.once('close', () => r()));
    stranger.write('{"op":"recent_logs","id":1}\n');
    await closed;
    expect(received).toBe(0);
    expect(stream.subscribers).toBe(0);
    await stream.stop();
    // One that connects and says nothing holds no stop up: stop does not wait for the default 5 s.
    const patient = new LogStream({ auth });
    const started = parseTcpEndpoint((await patient.start()).logs!)!;
    await expectStopsDespiteSilent(patient, started.host, started.port);
  });

  it('serves over TLS-PSK when asked: followers and queries read it, a plain peer gets nothing and is counted once', async () => {
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const instance = {
      id: 'i1',
      config: { bindHost: '127.0.0.1', rpcTls: true },
      ring: { recent: () => [] },
      metrics: { snapshot: () => ({ calls: 7 }) },
      log: {
        warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }),
      },
    } as unknown as Instance;
    const stream = new LogStream({ auth });
    const { logs } = await stream.start(instance);
    try {
      expect(logs).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
      const got: LogRecord[] = [];
      const follower = followOne(logs!, got);
      await follower.start();
      try {
        expect(follower.sources.map((s) => s.endpoint)).toEqual([logs]);
        while (stream.subscribers === 0) await new Promise((r) => setTimeout(r, 5));
        stream.write(record('sealed'));
        while (got.length === 0) await new Promise((r) => setTimeout(r, 5));
        expect(got[0]).toMatchObject({ msg: 'sealed', service: 'S', instance: 'i1' });
      } finally {
        await follower.close();
      }
      expect(await queryLogStream(auth, logs!, 'metrics')).toEqual({ instance: 'i1', calls: 7 });
      // A plain client, even one with the secret, never gets past TLS.
      const { host, port } = parseTcpEndpoint(logs!.replace('tls://', 'tcp://'))!;
      const plain = connect({ host, port });
      plain.on('error', () => {});
      let received = '';
      plain.on('data', (d: Buffer) => (received += d.toString('latin1')));
      const failed = new Promise<Error>((r) =>
        auth.connect(plain, logs!, { ready: () => r(new Error('ready')), failed: r }),
      );
      stream.write(record('sealed again'));
      expect((await failed).message).not.toBe('ready');
      expect(received).not.toContain('sealed');
      while (stream.tlsRefused === 0) await new Promise((r) => setTimeout(r, 5));
      expect(warnings.map((w) => w.msg)).toEqual([
        'refused a log stream subscriber that failed the TLS handshake',
      ]);
      expect(String(warnings[0]!.fields?.['source'])).toMatch(/^127\.0\.0\.1:\d+$/);
      // One that connects and never starts its TLS handshake holds no stop up.
      await expectStopsDespiteSilent(stream, host, port);
    } finally {
      await stream.stop();
    }
  });

  it('tells a follower it joined only once the instance counts it: a record written then reaches it', async () => {
    // The follower's half of the handshake ends when it sends its proof, before the instance
    // has read it: a join told then lost what the instance wrote in between (svc tail's test
    // of a record written right after "following" failed that way under load).
    for (let round = 0; round < 20; round++) {
      const stream = new LogStream({ auth });
      const { logs } = await stream.start();
      const got: LogRecord[] = [];
      const follower = followOne(logs!, got, () => stream.write(record(`at join ${round}`)));
      try {
        await follower.start();
        for (let i = 0; i < 200 && got.length === 0; i++) {
          await new Promise((r) => setTimeout(r, 5));
        }
        expect(got.map((r) => r.msg)).toEqual([`at join ${round}`]);
        expect(follower.bad).toBe(0);
      } finally {
        await follower.close();
        await stream.stop();
      }
    }
  });

  it('serves plain TCP without rpc_tls', async () => {
    const stream = new LogStream({ auth });
    const instance = { config: { bindHost: '127.0.0.1', rpcTls: false } } as unknown as Instance;
    const { logs } = await stream.start(instance);
    await stream.stop();
    expect(logs).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  });
});

/** A connection that connects and says nothing holds no stop up. */
async function expectStopsDespiteSilent(
  stream: { stop(): Promise<void> },
  host: string,
  port: number,
): Promise<void> {
  const silent = connect({ host, port });
  silent.on('error', () => {});
  await new Promise<void>((r) => silent.once('connect', () => r()));
  const started = Date.now();
  await stream.stop();
  expect(Date.now() - started).toBeLessThan(1000);
  silent.destroy();
}
