import type { ConsumeMessage } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { type EventMessage } from '@svc/core';
import { AmqpEventTransport } from '@svc/core/amqp';
import { eventually, uniqueName } from '@svc/core/testing/conformance';
import { AMQP_URL, MemoryLogger } from './helpers.js';
import { useRawBroker } from './raw-broker.js';

// Wire tests for events in Nameko's topology: raw AMQP messages shaped
// exactly as NAMEKO-WIRE.md §1.2 and §1.8 show them.

const broker = useRawBroker();
const { cleanup } = broker;

function transport(): AmqpEventTransport {
  const t = new AmqpEventTransport(AMQP_URL, { log: new MemoryLogger(), drainMs: 200 });
  broker.track(t);
  return t;
}

describe('svc event handlers against raw Nameko-shaped events', () => {
  it('receives the observed event of greet_and_announce on a SERVICE_POOL queue named as Nameko names it', async () => {
    const source = uniqueName('greeting_service_');
    const service = uniqueName('listener_');
    cleanup.add({ exchanges: [`${source}.events`] });
    const got: EventMessage[] = [];
    const sub = transport();
    await sub.subscribe(
      { service, handler: 'on_greeted', type: 'greeted', source, mode: 'pool' },
      async (e) => void got.push(e),
    );
    await sub.start();
    // Nameko's own declarations must be equivalent to svc's, or they fail
    await broker.ch.assertExchange(`${source}.events`, 'topic', { durable: true });
    const q = await broker.ch.assertQueue(`evt-${source}-greeted--${service}.on_greeted`, {
      durable: true,
    });
    expect(q.consumerCount).toBe(1);
    broker.ch.publish(
      `${source}.events`,
      'greeted',
      Buffer.from('{"name": "Linus", "greeting": "Hello, Linus?"}'),
      {
        contentType: 'application/json',
        contentEncoding: 'utf-8',
        headers: {
          'nameko.language': 'en-gb',
          'nameko.user_id': 42,
          'nameko.auth_token': 'tok-123',
          'nameko.call_id_stack': [
            'standalone_rpc_proxy.call.3e09',
            'greeting_service.greet_and_announce.1d3b',
          ],
        },
        deliveryMode: 2,
        priority: 0,
      },
    );
    expect(await eventually(() => got.length === 1)).toBe(true);
    expect(got[0]).toMatchObject({
      type: 'greeted',
      source,
      body: { name: 'Linus', greeting: 'Hello, Linus?' },
      headers: {
        callIdStack: ['standalone_rpc_proxy.call.3e09', 'greeting_service.greet_and_announce.1d3b'],
        data: { language: 'en-gb', user_id: 42, auth_token: 'tok-123' },
      },
    });
    expect(typeof got[0]!.id).toBe('string');
  });

  it('receives the standalone dispatch ("external", "ping", {"n": 2}) with empty headers on SINGLETON and BROADCAST queues', async () => {
    const source = uniqueName('external_');
    const service = uniqueName('greeting_service_');
    cleanup.add({ exchanges: [`${source}.events`] });
    const singleton: EventMessage[] = [];
    const broadcast: EventMessage[] = [];
    const sub = transport();
    await sub.subscribe(
      { service, handler: 'on_external_ping', type: 'ping', source, mode: 'singleton' },
      async (e) => void singleton.push(e),
    );
    await sub.subscribe(
      { service, handler: 'on_external_ping_broadcast', type: 'ping', source, mode: 'broadcast' },
      async (e) => void broadcast.push(e),
    );
    await sub.start();
    const q = await broker.ch.assertQueue(`evt-${source}-ping`, { durable: true });
    expect(q.consumerCount).toBe(1);
    const broadcastQueue = sub
      .declared()
      .queues.find((n) =>
        n.startsWith(`evt-${source}-ping--${service}.on_external_ping_broadcast-`),
      );
    expect(broadcastQueue).toMatch(/-[0-9a-f]{16}$/);
    broker.ch.publish(`${source}.events`, 'ping', Buffer.from('{"n": 2}'), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {},
      deliveryMode: 2,
      priority: 0,
    });
    expect(await eventually(() => singleton.length === 1 && broadcast.length === 1)).toBe(true);
    for (const e of [singleton[0]!, broadcast[0]!]) {
      expect(e).toMatchObject({
        type: 'ping',
        source,
        body: { n: 2 },
        headers: { callIdStack: [], data: {} },
      });
    }
  });

  it('lets a source-less handler see a Nameko publisher once an svc publisher bound the source', async () => {
    const source = uniqueName('nameko_src_');
    const type = uniqueName('tick');
    cleanup.add({ exchanges: [`${source}.events`] });
    const got: EventMessage[] = [];
    const sub = transport();
    await sub.subscribe(
      { service: uniqueName('Listen'), handler: 'on', type, mode: 'pool' },
      async (e) => void got.push(e),
    );
    await sub.start();
    const pub = transport();
    await pub.publish({
      id: 'e1',
      type,
      source,
      body: { from: 'svc' },
      headers: { traceId: 't', callIdStack: [], data: {} },
    });
    broker.ch.publish(`${source}.events`, type, Buffer.from('{"from": "nameko"}'), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
    });
    expect(await eventually(() => got.length === 2)).toBe(true);
    expect(got.map((e) => e.source)).toEqual([source, source]);
  });
});

describe("svc event publisher as Nameko's handlers see it", () => {
  it('publishes a bare JSON body, persistent, with nameko.* headers, to <source>.events by type', async () => {
    const source = uniqueName('greeting_service_');
    cleanup.add({ exchanges: [`${source}.events`] });
    const pub = transport();
    // declares the exchange, as an svc service does when it starts emitting
    await pub.publish({
      id: 'warm-up',
      type: 'other',
      source,
      body: null,
      headers: { traceId: 't', callIdStack: [], data: {} },
    });
    const queue = `evt-${source}-greeted--nameko_listener.on_greeted`;
    cleanup.add({ queues: [queue] });
    await broker.ch.assertExchange(`${source}.events`, 'topic', { durable: true });
    await broker.ch.assertQueue(queue, { durable: true });
    await broker.ch.bindQueue(queue, `${source}.events`, 'greeted');
    const got: ConsumeMessage[] = [];
    await broker.ch.consume(queue, (m) => void (m && got.push(m)), { noAck: true });
    await pub.publish({
      id: 'evt-1',
      type: 'greeted',
      source,
      body: { name: 'Linus', greeting: 'Hello, Linus?' },
      headers: { traceId: 'tr-9', callIdStack: ['a.b.1'], data: { language: 'en', user_id: 42 } },
    });
    expect(await eventually(() => got.length === 1)).toBe(true);
    const m = got[0]!;
    expect(m.fields.exchange).toBe(`${source}.events`);
    expect(m.fields.routingKey).toBe('greeted');
    expect(JSON.parse(m.content.toString())).toEqual({ name: 'Linus', greeting: 'Hello, Linus?' });
    expect(m.properties).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 0,
      headers: {
        'nameko.language': 'en',
        'nameko.user_id': 42,
        'nameko.call_id_stack': ['a.b.1'],
        'nameko.trace_id': 'tr-9',
      },
    });
  });
});
