import { createServer, type AddressInfo } from 'node:net';
import { ClusterClient, type LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { LogFollower } from './follow.js';
import { queryLogStream } from './query.js';
import { runTail } from './tail.js';
import { Greeting, startTour } from './tour.fixture.js';

async function until<T>(fn: () => T | undefined, what: string, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('log stream and follower', () => {
  it('publishes every instance as a logs endpoint in the registry', async () => {
    await using tour = await startTour();
    const records = await tour.hub.connect().registry.list();
    expect(records.map((r) => r.service).sort()).toEqual(['Greeting', 'Listen', 'Web']);
    for (const r of records) expect(r.endpoints['logs']).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  it('delivers the records of a request from every service with one trace id', async () => {
    await using tour = await startTour();
    const got: LogRecord[] = [];
    const follower = new LogFollower({
      auth: tour.auth,
      registry: tour.hub.connect().registry,
      services: [],
      onRecord: (r) => got.push(r),
    });
    await follower.start();
    try {
      expect(follower.sources).toHaveLength(3);
      const res = await fetch(`${tour.webUrl()}/greet?name=John`);
      const traceId = res.headers.get('x-trace-id')!;
      await until(() => got.find((r) => r.msg === 'Somebody greeted John'), 'the Listen record');
      const ofTrace = got.filter((r) => r.traceId === traceId);
      expect(new Set(ofTrace.map((r) => r.service))).toEqual(
        new Set(['Web', 'Greeting', 'Listen']),
      );
      expect(ofTrace.map((r) => r.msg)).toEqual(
        expect.arrayContaining([
          'About to greet John',
          'Saying hi to John',
          'rpc Greeting.greet ok',
          'http GET /greet 200',
          'Somebody greeted John',
        ]),
      );
    } finally {
      await follower.close();
    }
  });

  it('picks up an instance started later and drops one that stops', async () => {
    await using tour = await startTour();
    const joined: string[] = [];
    const left: string[] = [];
    const follower = new LogFollower({
      auth: tour.auth,
      registry: tour.hub.connect().registry,
      services: ['Greeting'],
      onRecord: () => {},
      onJoin: (s) => joined.push(s.instance),
      onLeave: (s) => left.push(s.instance),
      pollMs: 50,
    });
    await follower.start();
    try {
      expect(joined).toEqual([tour.instances[0]!.id]);
      const second = await tour.add(Greeting);
      await until(() => joined.includes(second.id), 'the new instance');
      await second.stop({ graceMs: 0 });
      await until(() => left.includes(second.id), 'the stopped instance to leave');
      expect(follower.sources.map((s) => s.instance)).toEqual([tour.instances[0]!.id]);
    } finally {
      await follower.close();
    }
  });

  it('follows an instance that joins while another one stalls its handshake', async () => {
    await using tour = await startTour();
    // A log endpoint that takes the connection and never answers the handshake (an instance
    // stuck, or a stranger on a dead instance's port): its handshake waits for its timeout.
    const stalled = createServer(() => {});
    await new Promise<void>((r) => stalled.listen(0, '127.0.0.1', r));
    const held = `tcp://127.0.0.1:${(stalled.address() as AddressInfo).port}`;
    const registry = tour.hub.connect().registry;
    let listStalled = false;
    const joined: string[] = [];
    const follower = new LogFollower({
      auth: tour.auth,
      registry: {
        list: async () => {
          const records = await registry.list();
          if (!listStalled) return records;
          const stuck = { ...records.find((r) => r.service === 'Greeting')! };
          return [...records, { ...stuck, id: 'stalled', endpoints: { logs: held } }];
        },
      },
      services: ['Greeting'],
      onRecord: () => {},
      onJoin: (s) => joined.push(s.instance),
      pollMs: 50,
    });
    await follower.start();
    try {
      listStalled = true;
      await new Promise((r) => setTimeout(r, 200));
      const second = await tour.add(Greeting);
      // Well within the stalled handshake's 5 s.
      await until(() => joined.includes(second.id), 'the new instance', 1500);
      expect(joined).not.toContain('stalled');
    } finally {
      await follower.close();
      stalled.close();
    }
  });
});

describe('runTail', () => {
  it('prints a finished trace in time order from the rings, and only that trace', async () => {
    await using tour = await startTour();
    const first = await fetch(`${tour.webUrl()}/greet?name=Ann`);
    const res = await fetch(`${tour.webUrl()}/greet?name=Bob`);
    const traceId = res.headers.get('x-trace-id')!;
    expect(first.headers.get('x-trace-id')).not.toBe(traceId);
    const client = new ClusterClient<{ Greeting: Greeting }>(tour.hub.connect(), {
      name: 'test',
      auth: tour.auth,
    });
    // The Listen handler runs after the HTTP reply: wait until its ring has it.
    await until(
      () => tour.instances[1]!.ring.recent({ traceId }).length > 0,
      'the Listen record in its ring',
    );
    const lines: string[] = [];
    await runTail({
      client,
      services: [],
      trace: traceId,
      follow: false,
      json: true,
      write: (l) => lines.push(l),
      notice: () => {},
    });
    const records = lines.map((l) => JSON.parse(l) as LogRecord);
    expect(records.every((r) => r.traceId === traceId)).toBe(true);
    const times = records.map((r) => r.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    const msgs = records.map((r) => r.msg);
    expect(msgs).toContain('About to greet Bob');
    expect(msgs).toContain('Somebody greeted Bob');
    // Records of different instances in the same millisecond have no order of their own.
    const at = (msg: string) => records.find((r) => r.msg === msg)!.time;
    expect(at('About to greet Bob')).toBeLessThanOrEqual(at('Saying hi to Bob'));
    expect(at('Saying hi to Bob')).toBeLessThanOrEqual(at('Somebody greeted Bob'));
    expect(msgs.join('\n')).not.toContain('Ann');
    // A prefix of the id, as tail prints it, finds the same records.
    const short: string[] = [];
    await runTail({
      client,
      services: [],
      trace: traceId.slice(0, 12),
      follow: false,
      json: true,
      write: (l) => short.push(l),
      notice: () => {},
    });
    expect(short).toEqual(lines);
  });

  it('follows live records through the filters until aborted', async () => {
    await using tour = await startTour();
    const client = new ClusterClient<{ Greeting: Greeting }>(tour.hub.connect(), {
      name: 'test',
      auth: tour.auth,
    });
    const lines: string[] = [];
    const abort = new AbortController();
    let joined = 0;
    const done = runTail({
      client,
      services: ['Greeting'],
      level: 'warn',
      write: (l) => lines.push(l),
      notice: () => joined++,
      signal: abort.signal,
    });
    await until(() => joined === 1, 'tail to join Greeting');
    await client.rpc.Greeting.greet({ name: 'Zed' });
    await expect(client.rpc.Greeting.fail()).rejects.toThrow('boom');
    await until(() => lines.find((l) => l.includes('Greeting.fail')), 'the error record');
    abort.abort();
    await done;
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /Greeting\/[0-9a-f]{8}\s+ERROR\s+[0-9a-f]{12}\s+rpc Greeting\.fail failed: boom/,
    );
  });

  it('says when a named service has no instance yet, and waits', async () => {
    await using tour = await startTour();
    const client = new ClusterClient<{ Greeting: Greeting }>(tour.hub.connect(), {
      name: 'test',
      auth: tour.auth,
    });
    const notices: string[] = [];
    const abort = new AbortController();
    const done = runTail({
      client,
      services: ['Greeting', 'Nobody'],
      write: () => {},
      notice: (n) => notices.push(n),
      signal: abort.signal,
    });
    await until(() => notices.some((n) => n.includes('Nobody')), 'the notice');
    abort.abort();
    await done;
    expect(notices).toEqual([
      expect.stringMatching(/^following Greeting\/[0-9a-f]{8}$/),
      'no instance of Nobody yet; waiting for one',
    ]);
  });

  it('answers metrics and recent records over the log stream, for transports that cannot address an instance', async () => {
    await using tour = await startTour();
    const greeting = tour.instances[0]!;
    const client = new ClusterClient<{ Greeting: Greeting }>(tour.hub.connect(), {
      name: 'test',
      auth: tour.auth,
    });
    await client.rpc.Greeting.greet({ name: 'Q' });
    const endpoint = greeting.endpoints['logs']!;
    const metrics = (await queryLogStream(tour.auth, endpoint, 'metrics')) as {
      instance: string;
      entrypoints: Array<{ name: string; calls: number }>;
    };
    expect(metrics.instance).toBe(greeting.id);
    expect(metrics.entrypoints).toContainEqual(
      expect.objectContaining({ name: 'Greeting.greet', calls: 1 }),
    );
    const [said] = greeting.ring.recent().filter((r) => r.msg === 'Saying hi to Q');
    const recent = (await queryLogStream(tour.auth, endpoint, 'recent_logs', {
      traceId: said!.traceId!,
    })) as Array<{ msg: string }>;
    expect(recent.map((r) => r.msg)).toEqual(['Saying hi to Q', 'rpc Greeting.greet ok']);
    await expect(queryLogStream(tour.auth, 'nonsense', 'metrics')).rejects.toThrow(
      'not a log stream address',
    );
  });
});
