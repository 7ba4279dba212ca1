import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Dealer } from 'zeromq';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import { UsageError } from '../errors.js';
import { LocalRegistry } from '../registry/local.js';
import { ClusterAuth } from '../security/auth.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { CaptureLogger } from '../testing/capture-log.js';
import {
  describeEventTransport,
  eventually,
  makeRecord,
  sleep,
  uniqueName,
} from '../testing/conformance/index.js';
import { createEventTransport } from '../backends.js';
import { ZmqEventTransport } from './zmq.js';
import type { EventMessage, SubscriptionSpec } from './transport.js';

const dir = mkdtempSync(join(tmpdir(), 'svc-local-events-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function context(log = new CaptureLogger()): BackendContext {
  return { cluster: 'test', bindHost: '127.0.0.1', log, clientName: 'test' };
}

describeEventTransport('local', {
  create: async () => {
    const registry = await LocalRegistry.open(context(), { dir });
    return { events: await ZmqEventTransport.create(registry, context()), registry };
  },
});

function event(type: string, body: unknown = {}): EventMessage {
  return {
    id: uniqueName('e'),
    type,
    source: 'Test',
    body,
    headers: { traceId: 'trace', callIdStack: [], data: {} },
  };
}

describe('ZmqEventTransport', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });
  async function peer(
    log = new CaptureLogger(),
    retryWindowMs = 3000,
    limits: BackendContext['limits'] = {},
  ) {
    const registry = await LocalRegistry.open(context(log), { dir });
    const events = await ZmqEventTransport.create(
      registry,
      { ...context(log), limits },
      { retryWindowMs },
    );
    cleanup.push(
      () => registry.close(),
      () => events.close(),
    );
    return { registry, events, log };
  }
  /** Subscribes, starts and registers one instance as the runtime does. */
  async function instance(
    p: Awaited<ReturnType<typeof peer>>,
    service: string,
    spec: Omit<SubscriptionSpec, 'service'>,
    handler: (e: EventMessage) => Promise<void>,
  ) {
    await p.events.subscribe({ ...spec, service }, handler);
    const endpoints = await p.events.start();
    const record = makeRecord(service, {
      endpoints,
      subscriptions: [{ type: spec.type, mode: spec.mode, handler: spec.handler }],
    });
    await p.registry.register(record);
    return { endpoint: endpoints['events']!, record };
  }

  it('is what createEventTransport("local") makes, and binds only when it has subscriptions', async () => {
    const registry = await LocalRegistry.open(context(), { dir });
    const events = await createEventTransport('local', registry, context());
    cleanup.push(
      () => registry.close(),
      () => events.close(),
    );
    expect(events.kind).toBe('local');
    expect(await events.start()).toEqual({});
    const sub = await peer();
    const { endpoint } = await instance(
      sub,
      'S',
      { type: 't', mode: 'pool', handler: 'h' },
      async () => {},
    );
    expect(endpoint).toMatch(/^tcp:\/\/127\.0\.0\.1:\d+$/);
  });

  it('refuses a delay that no timer can hold', async () => {
    const pub = await peer();
    await expect(pub.events.publish(event('x'), { delay: -1 })).rejects.toBeInstanceOf(UsageError);
    await expect(pub.events.publish(event('x'), { delay: 2 ** 40 })).rejects.toBeInstanceOf(
      UsageError,
    );
  });

  it('retries on the surviving instance when the chosen one is gone', async () => {
    const type = uniqueName('t');
    const service = uniqueName('Listen');
    const spec = { type, mode: 'pool' as const, handler: 'on' };
    const a = await peer();
    const b = await peer();
    const got: string[] = [];
    await instance(a, service, spec, async () => void got.push('a'));
    await instance(b, service, spec, async () => void got.push('b'));
    const pub = await peer();
    await pub.events.publish(event(type));
    // b's process "dies" without unregistering: its record stays while its socket is gone.
    await b.events.close();
    await a.events.close();
    const c = await peer();
    await instance(c, service, spec, async () => void got.push('c'));
    got.length = 0;
    for (let i = 0; i < 4; i++) await pub.events.publish(event(type));
    expect(got).toEqual(['c', 'c', 'c', 'c']);
  });

  it('drops an event whose subscribers are all down after a bounded retry, with a warning', async () => {
    const type = uniqueName('t');
    const sub = await peer();
    await instance(
      sub,
      uniqueName('Listen'),
      { type, mode: 'pool', handler: 'on' },
      async () => {},
    );
    await sub.events.close();
    const log = new CaptureLogger();
    const pub = await peer(log, 600);
    await pub.events.publish(event(type));
    expect(log.find('warn', 'dropped an event')).toHaveLength(1);
  });

  it('logs a handler that gave up and does not redeliver', async () => {
    const type = uniqueName('t');
    const log = new CaptureLogger();
    const sub = await peer(log);
    let calls = 0;
    await instance(sub, uniqueName('Listen'), { type, mode: 'pool', handler: 'on' }, async () => {
      calls++;
      throw new Error('nope');
    });
    const pub = await peer();
    await pub.events.publish(event(type));
    expect(await eventually(() => log.find('warn', 'gave up').length === 1)).toBe(true);
    await sleep(300);
    expect(calls).toBe(1);
  });

  it('hands a held delayed event to a peer when its receiver stops gracefully', async () => {
    const type = uniqueName('t');
    const service = uniqueName('Listen');
    const spec = { type, mode: 'pool' as const, handler: 'on' };
    const a = await peer();
    const got: string[] = [];
    await instance(a, service, spec, async () => void got.push('a'));
    const pub = await peer();
    await pub.events.publish(event(type), { delay: 600 });
    const b = await peer();
    await instance(b, service, spec, async () => void got.push('b'));
    await a.events.close();
    expect(got).toEqual([]);
    expect(await eventually(() => got.length === 1, 3000)).toBe(true);
    expect(got).toEqual(['b']);
  });

  it('refuses delayed events past its cap on held events and bytes, with a warning, and delivers those it took', async () => {
    const type = uniqueName('t');
    const log = new CaptureLogger();
    const sub = await peer(log, 3000, { delayedEvents: 3, delayedEventBytes: 100_000 });
    const got: unknown[] = [];
    await instance(sub, uniqueName('Listen'), { type, mode: 'pool', handler: 'on' }, async (e) => {
      got.push(e.body);
    });
    const pubLog = new CaptureLogger();
    const pub = await peer(pubLog, 200);
    for (let i = 0; i < 4; i++) await pub.events.publish(event(type, { i }), { delay: 1000 });
    expect(log.find('warn', 'refused delayed events over the limit')).toHaveLength(1);
    expect(pubLog.find('warn', 'dropped an event')).toHaveLength(1);
    expect(await eventually(() => got.length === 3, 3000)).toBe(true);
    expect(got).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    // Delivered, they no longer count; one event over the byte cap alone is refused.
    await pub.events.publish(event(type, { big: 'x'.repeat(200_000) }), { delay: 50 });
    expect(pubLog.find('warn', 'dropped an event')).toHaveLength(2);
    await pub.events.publish(event(type, { i: 9 }), { delay: 50 });
    expect(await eventually(() => got.length === 4, 3000)).toBe(true);
    expect(got[3]).toEqual({ i: 9 });
  });

  it('counts, logs once and drops garbage frames on its events socket, and delivers on', async () => {
    const log = new CaptureLogger();
    const sub = await peer(log);
    const type = uniqueName('t');
    const got: unknown[] = [];
    const { endpoint } = await instance(
      sub,
      uniqueName('Listen'),
      { type, mode: 'pool', handler: 'on' },
      async (e) => void got.push(e.body),
    );
    // A member of the cluster (it holds the keys) that sends garbage.
    const keys = new ClusterAuth({ cluster: 'test' }, { log }).curve();
    const raw = new Dealer({
      linger: 0,
      curveServerKey: keys.serverPublic,
      curvePublicKey: keys.clientPublic,
      curveSecretKey: keys.clientSecret,
    });
    cleanup.push(() => raw.close());
    raw.connect(endpoint);
    const serializer = new MsgpackSerializer();
    await raw.send(Buffer.from([0xc1, 0xc1, 0xc1]));
    await raw.send([Buffer.from('a'), Buffer.from('b')]);
    await raw.send(serializer.encode({ i: 1, q: { event: { id: 1 }, targets: [] } }));
    const [reply] = await raw.receive();
    expect((serializer.decode(reply!) as { e: { code: string } }).e.code).toBe(
      'SVC_ERR_MALFORMED_REQUEST',
    );
    expect(await eventually(() => sub.events.badFrames === 3)).toBe(true);
    expect(log.find('warn', 'bad frame')).toHaveLength(1);
    const pub = await peer();
    await pub.events.publish(event(type, { ok: 1 }));
    expect(await eventually(() => got.length === 1)).toBe(true);
    expect(got).toEqual([{ ok: 1 }]);
  });

  it('runs at most `prefetch` handlers of a subscription at once', async () => {
    const type = uniqueName('t');
    const sub = await peer();
    let running = 0;
    let most = 0;
    let done = 0;
    await instance(
      sub,
      uniqueName('Listen'),
      { type, mode: 'pool', handler: 'on', prefetch: 2 },
      async () => {
        running++;
        most = Math.max(most, running);
        await sleep(30);
        running--;
        done++;
      },
    );
    const pub = await peer();
    await Promise.all(Array.from({ length: 8 }, () => pub.events.publish(event(type))));
    expect(await eventually(() => done === 8)).toBe(true);
    expect(most).toBe(2);
  });
});
