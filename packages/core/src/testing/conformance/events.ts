import { afterEach, describe, expect, it } from 'vitest';
import type { EventMessage, EventTransport, SubscriptionSpec } from '../../events/transport.js';
import type { Registry } from '../../registry/registry.js';
import { closedAfterEach, eventually, makeRecord, sleep, uniqueName } from './util.js';

/** One process's view of the cluster for events. */
export interface EventPeer {
  events: EventTransport;
  /** for backends that find subscribers through the registry (local); null for AMQP */
  registry: Registry | null;
}

export interface EventFactory {
  create(): Promise<EventPeer>;
}

type Handler = (event: EventMessage) => Promise<void>;

/**
 * Subscribes a simulated instance of `service` and starts it, publishing its
 * subscriptions in the registry as the runtime does.
 */
async function instance(
  peer: EventPeer,
  service: string,
  subs: Array<[Omit<SubscriptionSpec, 'service'>, Handler]>,
) {
  for (const [spec, handler] of subs) await peer.events.subscribe({ ...spec, service }, handler);
  const endpoints = await peer.events.start();
  if (peer.registry) {
    await peer.registry.register(
      makeRecord(service, {
        endpoints,
        subscriptions: subs.map(([s]) => ({
          type: s.type,
          mode: s.mode,
          handler: s.handler,
          ...(s.source === undefined ? {} : { source: s.source }),
        })),
      }),
    );
  }
}

function event(type: string, body: unknown, source = 'Source'): EventMessage {
  return {
    id: uniqueName('e'),
    type,
    source,
    body,
    headers: {
      traceId: 'trace-1',
      callIdStack: ['Source.emit.1'],
      data: { lang: 'en' },
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
      traceState: 'vendor=abc',
    },
  };
}

/** The behaviour every EventTransport shares. */
export function describeEventTransport(name: string, factory: EventFactory): void {
  describe(`EventTransport conformance: ${name}`, () => {
    const peer = closedAfterEach(
      afterEach,
      () => factory.create(),
      (p) => p.events.close(),
      (p) => p.registry?.close(),
    );

    it('delivers an event with its type, source, body and headers', async () => {
      const sub = await peer();
      const pub = await peer();
      const type = uniqueName('greeted');
      const got: EventMessage[] = [];
      await instance(sub, uniqueName('Listen'), [
        [{ type, mode: 'pool', handler: 'on' }, async (e) => void got.push(e)],
      ]);
      const sent = event(type, { name: 'Flynne', n: [1, 2] });
      await pub.events.publish(sent);
      expect(await eventually(() => got.length === 1)).toBe(true);
      expect(got[0]).toEqual(
        expect.objectContaining({ type, source: 'Source', body: sent.body, headers: sent.headers }),
      );
    });

    it('gives each event to exactly one instance of a pool, spreading them', async () => {
      const a = await peer();
      const b = await peer();
      const pub = await peer();
      const type = uniqueName('greeted');
      const service = uniqueName('Listen');
      const byA: number[] = [];
      const byB: number[] = [];
      const spec = { type, mode: 'pool' as const, handler: 'on' };
      await instance(a, service, [[spec, async (e) => void byA.push((e.body as { i: number }).i)]]);
      await instance(b, service, [[spec, async (e) => void byB.push((e.body as { i: number }).i)]]);
      for (let i = 0; i < 20; i++) await pub.events.publish(event(type, { i }));
      expect(await eventually(() => byA.length + byB.length >= 20)).toBe(true);
      await sleep(200);
      expect([...byA, ...byB].sort((x, y) => x - y)).toEqual(
        Array.from({ length: 20 }, (_, i) => i),
      );
      expect(byA.length).toBeGreaterThan(0);
      expect(byB.length).toBeGreaterThan(0);
    });

    it('gives each event to every subscribing service', async () => {
      const a = await peer();
      const b = await peer();
      const pub = await peer();
      const type = uniqueName('greeted');
      let countA = 0;
      let countB = 0;
      await instance(a, uniqueName('One'), [
        [{ type, mode: 'pool', handler: 'on' }, async () => void countA++],
      ]);
      await instance(b, uniqueName('Two'), [
        [{ type, mode: 'pool', handler: 'on' }, async () => void countB++],
      ]);
      for (let i = 0; i < 3; i++) await pub.events.publish(event(type, { i }));
      expect(await eventually(() => countA === 3 && countB === 3)).toBe(true);
    });

    it('gives a broadcast event to every instance', async () => {
      const a = await peer();
      const b = await peer();
      const pub = await peer();
      const type = uniqueName('flush');
      const service = uniqueName('Cache');
      let countA = 0;
      let countB = 0;
      const spec = { type, mode: 'broadcast' as const, handler: 'flush' };
      await instance(a, service, [[spec, async () => void countA++]]);
      await instance(b, service, [[spec, async () => void countB++]]);
      await pub.events.publish(event(type, {}));
      await pub.events.publish(event(type, {}));
      expect(await eventually(() => countA === 2 && countB === 2)).toBe(true);
    });

    it('gives a singleton event to one handler in the whole cluster', async () => {
      const a = await peer();
      const b = await peer();
      const pub = await peer();
      const type = uniqueName('job');
      let total = 0;
      await instance(a, uniqueName('One'), [
        [{ type, mode: 'singleton', handler: 'run' }, async () => void total++],
      ]);
      await instance(b, uniqueName('Two'), [
        [{ type, mode: 'singleton', handler: 'run' }, async () => void total++],
      ]);
      for (let i = 0; i < 4; i++) await pub.events.publish(event(type, { i }));
      expect(await eventually(() => total >= 4)).toBe(true);
      await sleep(300);
      expect(total).toBe(4);
    });

    it('honours a handler bound to one source and ignores other types', async () => {
      const sub = await peer();
      const pub = await peer();
      const type = uniqueName('greeted');
      const fromA: unknown[] = [];
      const fromAny: unknown[] = [];
      const sourceA = uniqueName('SrcA');
      await instance(sub, uniqueName('Listen'), [
        [
          { type, source: sourceA, mode: 'pool', handler: 'fromA' },
          async (e) => void fromA.push(e.source),
        ],
        [{ type, mode: 'pool', handler: 'fromAny' }, async (e) => void fromAny.push(e.source)],
      ]);
      await pub.events.publish(event(type, {}, sourceA));
      await pub.events.publish(event(type, {}, uniqueName('SrcB')));
      await pub.events.publish(event(uniqueName('other'), {}, sourceA));
      expect(await eventually(() => fromAny.length === 2)).toBe(true);
      await sleep(300);
      expect(fromA).toEqual([sourceA]);
      expect(fromAny).toHaveLength(2);
    });

    it('delivers a delayed event after its delay, not before', async () => {
      const sub = await peer();
      const pub = await peer();
      const type = uniqueName('later');
      const at: number[] = [];
      await instance(sub, uniqueName('Listen'), [
        [{ type, mode: 'pool', handler: 'on' }, async () => void at.push(Date.now())],
      ]);
      const sentAt = Date.now();
      await pub.events.publish(event(type, {}), { delay: 700 });
      await sleep(400);
      expect(at).toEqual([]);
      expect(await eventually(() => at.length === 1, 4000)).toBe(true);
      expect(at[0]! - sentAt).toBeGreaterThanOrEqual(650);
    });
  });
}
