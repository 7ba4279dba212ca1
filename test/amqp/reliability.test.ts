import type { GetMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { type EventMessage, type SubscriptionSpec } from '@svc/core';
import { AmqpEventTransport, AmqpRpcTransport } from '@svc/core/amqp';
import { eventually, sleep, uniqueName } from '@svc/core/testing/conformance';
import { AMQP_URL, MemoryLogger, TcpProxy } from './helpers.js';
import { useRawBroker } from './raw-broker.js';

const broker = useRawBroker();
const { cleanup } = broker;

function events(url = AMQP_URL, log = new MemoryLogger()): AmqpEventTransport {
  const t = new AmqpEventTransport(url, { log, drainMs: 200, shared: url === AMQP_URL });
  broker.track(t);
  return t;
}

function event(source: string, type: string, body: unknown): EventMessage {
  return {
    id: uniqueName('e'),
    type,
    source,
    body,
    headers: { traceId: 'trace', callIdStack: [], data: {} },
  };
}

/** Messages waiting in a durable queue (declared if missing, exactly as svc declares it). */
async function count(queue: string): Promise<number> {
  return (await broker.ch.assertQueue(queue, { durable: true })).messageCount;
}

/** Whether `queue` exists (checked on a channel of its own, which a miss closes). */
async function exists(queue: string): Promise<boolean> {
  const probe = await broker.conn.createChannel();
  probe.on('error', () => {});
  try {
    await probe.checkQueue(queue);
    await probe.close();
    return true;
  } catch {
    return false;
  }
}

/** Every message now in `queue`, taken off it. */
async function drain(queue: string): Promise<GetMessage[]> {
  const out: GetMessage[] = [];
  for (;;) {
    const m = await broker.ch.get(queue, { noAck: true });
    if (m === false) return out;
    out.push(m);
  }
}

describe('AMQP events: failures end in the dead-letter queue, never in a loop', () => {
  it('moves an event whose handler gave up to <queue>.dead, once', async () => {
    const source = uniqueName('Src');
    const type = uniqueName('fails');
    cleanup.add({ exchanges: [`${source}.events`] });
    let calls = 0;
    const log = new MemoryLogger();
    const sub = events(AMQP_URL, log);
    const spec: SubscriptionSpec = {
      service: uniqueName('Listen'),
      handler: 'on',
      type,
      mode: 'pool',
    };
    await sub.subscribe(spec, async () => {
      calls++;
      throw new Error('retries exhausted');
    });
    await sub.start();
    await events().publish(event(source, type, { n: 1 }));
    const dead = `evt-*-${type}--${spec.service}.on.dead`;
    expect(await eventually(async () => (await count(dead)) === 1)).toBe(true);
    await sleep(300);
    expect(calls).toBe(1);
    const [m] = await drain(dead);
    expect(JSON.parse(m!.content.toString())).toEqual({ n: 1 });
    expect(String(m!.properties.headers?.['x-svc-dead-reason'])).toContain('retries exhausted');
    expect(m!.properties.headers?.['x-svc-dead-routing-key']).toBe(type);
    expect(await count(`evt-*-${type}--${spec.service}.on`)).toBe(0);
    // The dead-lettering line names the event's trace (`svc tail --trace` shows it).
    const buried = log.find('warn', 'moving the event to the dead-letter queue');
    expect(buried).toHaveLength(1);
    expect(buried[0]!['traceId']).toBe('trace');
  });

  it('logs poison messages with their queue and dead-letters them; the handler goes on', async () => {
    const source = uniqueName('Src');
    const service = uniqueName('Listen');
    cleanup.add({ exchanges: [`${source}.events`] });
    const log = new MemoryLogger();
    const got: unknown[] = [];
    const sub = events(AMQP_URL, log);
    await sub.subscribe(
      { service, handler: 'on', type: 'ping', source, mode: 'pool' },
      async (e) => void got.push(e.body),
    );
    await sub.start();
    const queue = `evt-${source}-ping--${service}.on`;
    broker.ch.publish(`${source}.events`, 'ping', Buffer.from('{"n": '), {
      contentType: 'application/json',
    });
    broker.ch.publish(`${source}.events`, 'ping', Buffer.from('hello'), {
      contentType: 'text/plain',
      // A peer instrumented with OpenTelemetry: its trace is named on the line.
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    broker.ch.publish(`${source}.events`, 'ping', Buffer.from('{"n": 3}'), {
      contentType: 'application/json',
    });
    expect(await eventually(async () => (await count(`${queue}.dead`)) === 2)).toBe(true);
    expect(await eventually(() => got.length === 1)).toBe(true);
    expect(got).toEqual([{ n: 3 }]);
    const warnings = log.records.filter((r) => r.level === 'warn' && r['queue'] === queue);
    expect(warnings).toHaveLength(2);
    expect(warnings.map((w) => w['traceId']).sort()).toEqual([
      '4bf92f3577b34da6a3ce929d0e0e4736',
      undefined,
    ]);
    const dead = await drain(`${queue}.dead`);
    expect(dead.map((m) => m.content.toString()).sort()).toEqual(['hello', '{"n": ']);
  });
});

describe('AMQP events: durability and delays', () => {
  it('keeps an event for a pool whose every instance is down, and delivers it when one comes back', async () => {
    const source = uniqueName('Src');
    const type = uniqueName('kept');
    const spec: SubscriptionSpec = {
      service: uniqueName('Listen'),
      handler: 'on',
      type,
      source,
      mode: 'pool',
    };
    cleanup.add({ exchanges: [`${source}.events`] });
    const first = events();
    await first.subscribe(spec, async () => {});
    await first.start();
    await first.close();
    await events().publish(event(source, type, { kept: true }));
    const got: unknown[] = [];
    const second = events();
    await second.subscribe(spec, async (e) => void got.push(e.body));
    await second.start();
    expect(await eventually(() => got.length === 1)).toBe(true);
    expect(got).toEqual([{ kept: true }]);
  });

  it('delivers one type emitted with two delays once each, after its own delay', async () => {
    const source = uniqueName('Src');
    const type = uniqueName('later');
    cleanup.add({ exchanges: [`${source}.events`] });
    const got: Array<{ body: unknown; at: number; source: string }> = [];
    const sub = events();
    await sub.subscribe(
      { service: uniqueName('Listen'), handler: 'on', type, source, mode: 'pool' },
      async (e) => void got.push({ body: e.body, at: Date.now(), source: e.source }),
    );
    await sub.start();
    const pub = events();
    const sentAt = Date.now();
    await pub.publish(event(source, type, 'short'), { delay: 300 });
    await pub.publish(event(source, type, 'long'), { delay: 700 });
    expect(await eventually(() => got.length >= 2, 4000)).toBe(true);
    await sleep(800);
    expect(got.map((g) => g.body)).toEqual(['short', 'long']);
    expect(got[0]!.at - sentAt).toBeGreaterThanOrEqual(280);
    expect(got[1]!.at - sentAt).toBeGreaterThanOrEqual(680);
    expect(got.map((g) => g.source)).toEqual([source, source]);
  });
});

describe('AMQP: a deleted queue', () => {
  it('is declared again and consumed when someone deletes it under a running subscriber', async () => {
    const source = uniqueName('Src');
    const service = uniqueName('Listen');
    cleanup.add({ exchanges: [`${source}.events`] });
    const got: unknown[] = [];
    const sub = events();
    await sub.subscribe(
      { service, handler: 'on', type: 'ping', source, mode: 'pool' },
      async (e) => void got.push(e.body),
    );
    await sub.start();
    const queue = `evt-${source}-ping--${service}.on`;
    await broker.ch.deleteQueue(queue);
    expect(await eventually(() => exists(queue), 5000)).toBe(true);
    await events().publish(event(source, 'ping', { after: true }));
    expect(await eventually(() => got.length === 1, 5000)).toBe(true);
    expect(got).toEqual([{ after: true }]);
  });
});

describe('AMQP: a queue declared differently by someone else', () => {
  it('makes start() fail with a BackendError that says why', async () => {
    const source = uniqueName('Src');
    const service = uniqueName('Listen');
    const queue = `evt-${source}-ping--${service}.on`;
    cleanup.add({ queues: [queue], exchanges: [`${source}.events`] });
    await broker.ch.assertQueue(queue, { durable: false });
    const t = new AmqpEventTransport(AMQP_URL, { log: new MemoryLogger(), waitMs: 1000 });
    broker.track(t);
    await t.subscribe(
      { service, handler: 'on', type: 'ping', source, mode: 'pool' },
      async () => {},
    );
    await expect(t.start()).rejects.toMatchObject({
      code: 'SVC_ERR_BACKEND',
      message: expect.stringContaining('PRECONDITION_FAILED') as unknown,
    });
  });
});

describe('AMQP: connection loss', () => {
  it('handles every confirmed emit after the connection is cut mid-stream, and keeps serving RPC', async () => {
    const proxy = new TcpProxy();
    const url = await proxy.listen();
    try {
      const source = uniqueName('Src');
      const type = uniqueName('stream');
      cleanup.add({ exchanges: [`${source}.events`] });
      const handled = new Set<number>();
      const sub = events(url);
      await sub.subscribe(
        { service: uniqueName('Listen'), handler: 'on', type, source, mode: 'pool' },
        async (e) => {
          await sleep(2);
          handled.add((e.body as { i: number }).i);
        },
      );
      await sub.start();
      const pub = events(url);
      const confirmed: number[] = [];
      const failed: number[] = [];
      for (let i = 0; i < 60; i++) {
        if (i === 20 || i === 40) proxy.cut();
        try {
          await pub.publish(event(source, type, { i }));
          confirmed.push(i);
        } catch {
          failed.push(i);
        }
      }
      // and a burst of concurrent emits with the cut while they are in flight
      const burst = Array.from({ length: 40 }, (_, k) => 60 + k).map(async (i) => {
        try {
          await pub.publish(event(source, type, { i }));
          confirmed.push(i);
        } catch {
          failed.push(i);
        }
      });
      await sleep(1);
      proxy.cut();
      await Promise.all(burst);
      // emits during the outage waited for the reconnect (or were published again) instead of failing
      expect(failed).toEqual([]);
      expect(confirmed).toHaveLength(100);
      expect(await eventually(() => confirmed.every((i) => handled.has(i)), 15_000)).toBe(true);

      const rpc = new AmqpRpcTransport(url, {
        log: new MemoryLogger(),
        clientName: 'cut',
        shared: false,
        drainMs: 200,
      });
      broker.track(rpc);
      const service = uniqueName('Echo');
      await rpc.listen([service], async (req) => ({ ok: true, result: req.params }));
      const headers = { traceId: 't', callIdStack: [], data: {} };
      expect(
        await rpc.call({ service, method: 'echo', params: { a: 1 }, headers }, { timeout: 5000 }),
      ).toEqual({
        ok: true,
        result: { a: 1 },
      });
      proxy.cut();
      expect(
        await rpc.call({ service, method: 'echo', params: { a: 2 }, headers }, { timeout: 8000 }),
      ).toEqual({
        ok: true,
        result: { a: 2 },
      });
    } finally {
      await proxy.close();
    }
  });

  it('answers calls that were in flight when the connection was cut, each once to the caller', async () => {
    const proxy = new TcpProxy();
    const url = await proxy.listen();
    try {
      const transport = (name: string) => {
        const t = new AmqpRpcTransport(url, {
          log: new MemoryLogger(),
          clientName: name,
          shared: false,
          drainMs: 200,
        });
        broker.track(t);
        return t;
      };
      const service = uniqueName('Slow');
      const server = transport('server');
      const runs = new Map<number, number>();
      await server.listen([service], async (req) => {
        const { n } = req.params as { n: number };
        runs.set(n, (runs.get(n) ?? 0) + 1);
        await sleep(150);
        return { ok: true, result: n * 2 };
      });
      const client = transport('client');
      const headers = { traceId: 't', callIdStack: [], data: {} };
      const calls = [1, 2, 3].map((n) =>
        client.call({ service, method: 'double', params: { n }, headers }, { timeout: 15_000 }),
      );
      await eventually(() => runs.size === 3, 5000);
      // every request was delivered and is being worked on: cut both connections now
      proxy.cut();
      expect(await Promise.all(calls)).toEqual([2, 4, 6].map((result) => ({ ok: true, result })));
      // the cut ones ran again (redelivered, or published again), never less than once
      for (const n of [1, 2, 3]) expect(runs.get(n)).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  });

  it('publishes again a request the cut connection never carried to the broker', async () => {
    const proxy = new TcpProxy();
    const url = await proxy.listen();
    try {
      const service = uniqueName('Echo');
      // the server talks to the broker directly: only the client's connection is cut
      const server = new AmqpRpcTransport(AMQP_URL, {
        log: new MemoryLogger(),
        clientName: 'server',
        shared: false,
        drainMs: 200,
      });
      broker.track(server);
      const runs: number[] = [];
      await server.listen([service], (req) => {
        const { n } = req.params as { n: number };
        runs.push(n);
        return { ok: true, result: n };
      });
      const client = new AmqpRpcTransport(url, {
        log: new MemoryLogger(),
        clientName: 'client',
        shared: false,
        drainMs: 200,
      });
      broker.track(client);
      const headers = { traceId: 't', callIdStack: [], data: {} };
      const call = (n: number) =>
        client.call({ service, method: 'echo', params: { n }, headers }, { timeout: 10_000 });
      expect(await call(1)).toEqual({ ok: true, result: 1 });
      // The request's frames leave at the end of the tick; the cut comes first, so
      // the broker never gets them and only the client's second publish can run it.
      const lost = call(2);
      proxy.cut();
      expect(await lost).toEqual({ ok: true, result: 2 });
      expect(runs).toEqual([1, 2]);
    } finally {
      await proxy.close();
    }
  });

  it('closes a transport whose connection is lost as it closes', async () => {
    // The proxy holds every channel's frames: the subscriber's channel, closed after its queue
    // was deleted, stays closing, so close() goes straight to closing the connection, which the
    // cut ends before the broker can answer.
    const proxy = new TcpProxy(undefined, { amqp: true });
    const url = await proxy.listen();
    try {
      const source = uniqueName('Src');
      const service = uniqueName('Listen');
      cleanup.add({ exchanges: [`${source}.events`] });
      const sub = events(url);
      await sub.subscribe(
        { service, handler: 'on', type: 'ping', source, mode: 'pool' },
        async () => {},
      );
      await sub.start();
      proxy.hold();
      await broker.ch.deleteQueue(`evt-${source}-ping--${service}.on`);
      expect(await eventually(() => sub.unavailable() !== undefined, 5000)).toBe(true);
      proxy.cut();
      const closed = sub.close().then(() => 'closed');
      expect(await Promise.race([closed, sleep(5000).then(() => 'still closing')])).toBe('closed');
    } finally {
      await proxy.close();
    }
  });

  it('fails an emit with a clear BackendError when the broker stays away', async () => {
    const proxy = new TcpProxy({ host: '127.0.0.1', port: 1 });
    const url = await proxy.listen();
    try {
      const t = new AmqpEventTransport(url, {
        log: new MemoryLogger(),
        waitMs: 500,
        shared: false,
      });
      broker.track(t);
      await expect(t.publish(event('Nowhere', 'x', {}))).rejects.toMatchObject({
        code: 'SVC_ERR_BACKEND',
        message: expect.stringContaining('not reachable') as unknown,
      });
    } finally {
      await proxy.close();
    }
  });
});
