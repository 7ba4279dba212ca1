import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEventTransport, createRpcTransport } from '@svc/core';
import { AmqpEventTransport, AmqpRpcTransport } from '@svc/core/amqp';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';
import { describeEventTransport, describeRpcTransport } from '@svc/core/testing/conformance';
import { AMQP_URL, Cleanup, MemoryLogger, rawConnection } from './helpers.js';

const cleanup = new Cleanup();
const events: AmqpEventTransport[] = [];
const rpcs: AmqpRpcTransport[] = [];

beforeAll(async () => {
  // fails loudly, with a clear message, when RabbitMQ is not there
  const { conn } = await rawConnection();
  await conn.close();
});

afterAll(async () => {
  for (const t of [...events, ...rpcs]) cleanup.add(t.declared());
  await cleanup.run();
});

describeEventTransport('amqp', {
  async create() {
    const t = new AmqpEventTransport(AMQP_URL, { log: new MemoryLogger(), drainMs: 500 });
    events.push(t);
    return { events: t, registry: null };
  },
});

describeRpcTransport('amqp', {
  async create() {
    const t = new AmqpRpcTransport(AMQP_URL, {
      log: new MemoryLogger(),
      clientName: 'conformance',
      drainMs: 500,
    });
    rpcs.push(t);
    return { rpc: t, registry: null };
  },
});

describe('AMQP backend factories', () => {
  it('build the AMQP transports for amqp:// URLs and share one connection', async () => {
    const registry = new MemoryRegistry(new MemoryRegistryStore());
    const ctx = {
      cluster: 'test',
      bindHost: '127.0.0.1',
      log: new MemoryLogger(),
      clientName: 'factory',
    };
    const ev = await createEventTransport(AMQP_URL, registry, ctx);
    const rpc = await createRpcTransport(AMQP_URL, registry, ctx);
    try {
      expect(ev).toBeInstanceOf(AmqpEventTransport);
      expect(rpc).toBeInstanceOf(AmqpRpcTransport);
      expect(ev.kind).toBe('amqp');
      expect((rpc as AmqpRpcTransport).replyQueue).toMatch(/^rpc\.reply-factory-[0-9a-f-]{36}$/);
      expect(await ev.start()).toEqual({});
    } finally {
      await ev.close();
      await rpc.close();
      await registry.close();
    }
  });
});
