// unavailable() of the AMQP transports, what an instance's /readyz reports: ready only while
// every consumer the transport has is consuming. A proxy that holds every channel's frames
// (the connection's own go through) keeps a transport reconnected but not consuming for as
// long as the test wants; nothing can consume meanwhile, so what it reports then is certain.
import { describe, expect, it } from 'vitest';
import type { EventMessage, SubscriptionSpec } from '@svc/core';
import { AmqpEventTransport, AmqpRpcTransport } from '@svc/core/amqp';
import { eventually, sleep, uniqueName } from '@svc/core/testing/conformance';
import { AMQP_URL, MemoryLogger, TcpProxy } from './helpers.js';
import { useRawBroker } from './raw-broker.js';

const broker = useRawBroker();
const { cleanup } = broker;

const NOT_RESTORED = 'RabbitMQ consumers not yet restored';
const headers = { traceId: 't', callIdStack: [], data: {} };

interface Transport {
  unavailable(): string | undefined;
}

/** Consumers of a durable queue, as the broker counts them. */
async function consumers(queue: string): Promise<number> {
  return (await broker.ch.checkQueue(queue)).consumerCount;
}

/**
 * Cuts the connection through `proxy` with every channel's frames held, and
 * waits until the transport has connected again and is waiting for its channel.
 */
async function reconnectHeld(proxy: TcpProxy, t: Transport): Promise<void> {
  proxy.hold();
  proxy.cut();
  expect(await eventually(() => proxy.held > 0, 10_000)).toBe(true);
  // connected again: the connection is not what keeps it from being ready
  expect(t.unavailable()).toBe(NOT_RESTORED);
}

/**
 * Polls `t` every millisecond until it says it is ready, and returns then,
 * so that the caller acts at that moment; before that it may only say
 * that its consumers are not back.
 */
async function firstReady(t: Transport): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const why = t.unavailable();
    if (why === undefined) return;
    expect(why).toBe(NOT_RESTORED);
    if (Date.now() > deadline) throw new Error('the transport never became ready');
    await sleep(1);
  }
}

/**
 * With its channels still held at the proxy, `t` is not ready a while later either; then the
 * proxy lets them through, and this returns at the first moment `t` says it is ready.
 */
async function notReadyUntilReleased(proxy: TcpProxy, t: Transport): Promise<void> {
  await sleep(300);
  expect(t.unavailable()).toBe(NOT_RESTORED);
  proxy.release();
  await firstReady(t);
}

/** A proxy to the broker that can hold every channel's frames, closed at the end of the test. */
async function amqpProxy(): Promise<{ proxy: TcpProxy; url: string } & AsyncDisposable> {
  const proxy = new TcpProxy(undefined, { amqp: true });
  const url = await proxy.listen();
  return { proxy, url, [Symbol.asyncDispose]: () => proxy.close() };
}

/**
 * An event transport through `url` with the subscriptions `specs` makes from a pool
 * subscription of a new service to `ping` from a new source (`handle` gets their events),
 * started and ready; `queue` is that pool subscription's queue.
 */
async function readySubscriber(
  url: string,
  specs: (pool: SubscriptionSpec) => SubscriptionSpec[] = (pool) => [pool],
  handle: (spec: SubscriptionSpec, e: EventMessage) => void = () => {},
): Promise<{ sub: AmqpEventTransport; source: string; queue: string }> {
  const source = uniqueName('Src');
  const service = uniqueName('Listen');
  cleanup.add({ exchanges: [`${source}.events`] });
  const pool: SubscriptionSpec = { service, handler: 'on', type: 'ping', source, mode: 'pool' };
  const sub = broker.track(
    new AmqpEventTransport(url, { log: new MemoryLogger(), drainMs: 200, shared: false }),
  );
  for (const spec of specs(pool)) await sub.subscribe(spec, async (e) => handle(spec, e));
  await sub.start();
  expect(sub.unavailable()).toBeUndefined();
  return { sub, source, queue: `evt-${source}-ping--${service}.on` };
}

function event(source: string, type: string, body: unknown): EventMessage {
  return { id: uniqueName('e'), type, source, body, headers };
}

describe('AMQP readiness follows the consumers', () => {
  it('reports an event transport not ready after a reconnect until its subscriptions consume again', async () => {
    await using through = await amqpProxy();
    const got: Array<{ handler: string; body: unknown }> = [];
    const { sub, source, queue } = await readySubscriber(
      through.url,
      // A broadcast queue is the instance's own and goes with its connection: an event emitted
      // before it is declared again is lost, so one emitted at "ready" shows it was.
      (pool) => [pool, { ...pool, handler: 'all', mode: 'broadcast' }],
      (spec, e) => void got.push({ handler: spec.handler, body: e.body }),
    );
    expect(await consumers(queue)).toBe(1);
    const pub = broker.track(
      new AmqpEventTransport(AMQP_URL, { log: new MemoryLogger(), shared: false }),
    );
    await pub.publish(event(source, 'warm-up', {}));

    await reconnectHeld(through.proxy, sub);
    expect(await eventually(async () => (await consumers(queue)) === 0, 5000)).toBe(true);
    await notReadyUntilReleased(through.proxy, sub);
    const emitted = pub.publish(event(source, 'ping', { at: 'ready' }));
    expect(await consumers(queue)).toBe(1);
    await emitted;
    expect(await eventually(() => got.length === 2, 5000)).toBe(true);
    expect(got.sort((a, b) => a.handler.localeCompare(b.handler))).toEqual([
      { handler: 'all', body: { at: 'ready' } },
      { handler: 'on', body: { at: 'ready' } },
    ]);
  });

  it('reports an RPC transport not ready after a reconnect until its service queue and reply queue are consumed again', async () => {
    await using through = await amqpProxy();
    const service = uniqueName('Echo');
    const rpc = broker.track(
      new AmqpRpcTransport(through.url, {
        log: new MemoryLogger(),
        clientName: 'ready',
        shared: false,
        drainMs: 200,
      }),
    );
    await rpc.listen([service], async (req) => ({ ok: true, result: req.params }));
    const call = (n: number) =>
      rpc.call({ service, method: 'echo', params: { n }, headers }, { timeout: 5000 });
    // the reply queue is set up by the first call
    expect(await call(1)).toEqual({ ok: true, result: { n: 1 } });
    const queues = [`rpc-${service}`, rpc.replyQueue];
    expect(rpc.unavailable()).toBeUndefined();
    for (const q of queues) expect(await consumers(q)).toBe(1);

    await reconnectHeld(through.proxy, rpc);
    for (const q of queues) {
      expect(await eventually(async () => (await consumers(q)) === 0, 5000)).toBe(true);
    }
    await notReadyUntilReleased(through.proxy, rpc);
    for (const q of queues) expect(await consumers(q)).toBe(1);
    expect(await call(2)).toEqual({ ok: true, result: { n: 2 } });
  });

  it('reports an event transport not ready while a deleted queue is not consumed again, its connection up throughout', async () => {
    await using through = await amqpProxy();
    const { sub, queue } = await readySubscriber(through.url);

    // The broker cancels the consumer; the channel's close and its successor wait at the proxy.
    through.proxy.hold();
    await broker.ch.deleteQueue(queue);
    expect(await eventually(() => sub.unavailable() !== undefined, 5000)).toBe(true);
    expect(sub.unavailable()).toBe(NOT_RESTORED);
    await notReadyUntilReleased(through.proxy, sub);
    expect(await consumers(queue)).toBe(1);
  });
});
