// Context data from outside the cluster: a client's `context` and a call's own
// `context` option reach the worker (`this.context.data`) over the net
// transport and over AMQP, and reach a Nameko service as `nameko.<key>`
// headers (a raw AMQP consumer stands in for the Nameko peer).
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConsumeMessage } from 'amqplib';
import { UsageError } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Ctx } from './fixtures/context/services.js';
import { AMQP_URL } from './amqp/helpers.js';
import { useRawBroker } from './amqp/raw-broker.js';
import { FIXTURES, TestEnv, requireBuild } from './support/svc.js';

const env = new TestEnv();
const dir = mkdtempSync(join(tmpdir(), 'svc-context-'));
const tag = randomBytes(4).toString('hex');
// Names of their own on the shared broker: the svc service and the Nameko stand-in.
const AMQP_SERVICE = `ctx_${tag}`;
const PEER = `nameko_peer_${tag}`;

/** An instance config for the fixture, under `name`. */
function config(name: string): string {
  const file = join(dir, `${name}.yml`);
  writeFileSync(
    file,
    [
      'registry: local',
      'rpc: ${SVC_RPC:-net}',
      'events: local',
      'interfaces:',
      `  ${name}:`,
      `    class: ${join(FIXTURES, 'context/services.ts')}#Ctx`,
      '',
    ].join('\n'),
  );
  return file;
}

const broker = useRawBroker(async (ch) => {
  await ch.assertExchange('nameko-rpc', 'topic', { durable: true });
});
/** Every request the Nameko stand-in received, as it came off the wire. */
const received: ConsumeMessage[] = [];

beforeAll(async () => {
  requireBuild();
  // The Nameko peer: a queue on nameko-rpc that answers every call with null.
  const queue = `rpc-${PEER}`;
  broker.cleanup.add({ queues: [queue] });
  await broker.ch.assertQueue(queue, { durable: true });
  await broker.ch.bindQueue(queue, 'nameko-rpc', `${PEER}.*`);
  await broker.ch.consume(queue, (m) => {
    if (!m) return;
    received.push(m);
    broker.ch.publish(
      'nameko-rpc',
      String(m.properties.replyTo),
      Buffer.from('{"result": null, "error": null}'),
      {
        contentType: 'application/json',
        correlationId: String(m.properties.correlationId),
      },
    );
    broker.ch.ack(m);
  });
  broker.cleanup.add({ queues: [`rpc-${AMQP_SERVICE}`] });
  await Promise.all([
    env.instance(config('Ctx'), { env: { CTX_SERVICE: 'Ctx' } }),
    env.instance(config(AMQP_SERVICE), { env: { CTX_SERVICE: AMQP_SERVICE, SVC_RPC: AMQP_URL } }),
  ]);
}, 60_000);

afterAll(async () => {
  await env.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('context data from a client', () => {
  it("arrives in the worker over net: the client's, with a call's own on top", async () => {
    const client = await env.client<{ Ctx: Ctx }>({ context: { language: 'en', user_id: 42 } });
    try {
      expect(await client.rpc.Ctx.seen()).toEqual({ language: 'en', user_id: 42 });
      expect(await client.rpc.Ctx.seen(undefined, { context: { language: 'fr' } })).toEqual({
        language: 'fr',
        user_id: 42,
      });
      // The client's own context is unchanged by a call's.
      expect(await client.rpc.Ctx.seen()).toEqual({ language: 'en', user_id: 42 });
    } finally {
      await client.close();
    }
  });

  it('arrives in the worker over AMQP', async () => {
    const client = await env.client({ rpc: AMQP_URL, context: { language: 'en', user_id: 42 } });
    try {
      expect(await client.call(AMQP_SERVICE, 'seen', {}, { context: { tenant: 'acme' } })).toEqual({
        language: 'en',
        user_id: 42,
        tenant: 'acme',
      });
    } finally {
      await client.close();
    }
  });

  it('reaches a Nameko service as nameko.<key> headers, directly and through a worker', async () => {
    const client = await env.client({ rpc: AMQP_URL, context: { language: 'en', user_id: 42 } });
    try {
      await client.call(PEER, 'hello', {}, { context: { auth_token: 'tok' } });
      await client.call(
        AMQP_SERVICE,
        'relay',
        { service: PEER, method: 'hello', extra: { tenant: 'acme' } },
        { context: { language: 'de' } },
      );
    } finally {
      await client.close();
    }
    expect(received).toHaveLength(2);
    const [direct, relayed] = received.map((m) => m.properties.headers as Record<string, unknown>);
    expect(direct).toMatchObject({
      'nameko.language': 'en',
      'nameko.user_id': 42,
      'nameko.auth_token': 'tok',
      'nameko.call_id_stack': [expect.stringMatching(/^test-client\.call\./)],
    });
    // The worker forwards what its call brought, plus what it added itself.
    expect(relayed).toMatchObject({
      'nameko.language': 'de',
      'nameko.user_id': 42,
      'nameko.tenant': 'acme',
    });
    expect(relayed!['nameko.call_id_stack']).toEqual([
      expect.stringMatching(/^test-client\.call\./),
      expect.stringMatching(new RegExp(`^${AMQP_SERVICE}\\.relay\\.`)),
    ]);
    expect(relayed).not.toHaveProperty('nameko.auth_token');
  });

  it('refuses a context key svc sets itself, before connecting', async () => {
    await expect(env.client({ context: { trace_id: 'mine' } })).rejects.toThrow(UsageError);
    const client = await env.client<{ Ctx: Ctx }>();
    try {
      await expect(
        client.rpc.Ctx.seen(undefined, { context: { call_id_stack: [] } }),
      ).rejects.toThrow('"call_id_stack" cannot be a context key');
    } finally {
      await client.close();
    }
  });
});
