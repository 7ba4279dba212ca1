import { afterAll, beforeAll } from 'vitest';
import { AmqpEventTransport, AmqpRpcTransport } from '../../packages/core/src/index.js';
import {
  describeEventTransport,
  describeRpcTransport,
} from '../../packages/core/src/testing/conformance/index.js';
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
