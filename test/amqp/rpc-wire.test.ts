import { randomUUID } from 'node:crypto';
import type { ConsumeMessage, GetMessage, Message } from 'amqplib';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  fromWireError,
  MethodNotFoundError,
  RemoteError,
  type RpcRequest,
  type RpcResponse,
} from '@svc/core';
import { AmqpRpcTransport } from '@svc/core/amqp';
import { eventually, uniqueName } from '@svc/core/testing/conformance';
import { AMQP_URL, MemoryLogger } from './helpers.js';
import { useRawBroker } from './raw-broker.js';

// Wire tests for RPC in Nameko's format: raw AMQP messages shaped exactly as
// NAMEKO-WIRE.md §1.3–1.5 and §1.10 show them, against svc's server and client.

const broker = useRawBroker((ch) => ch.assertExchange('nameko-rpc', 'topic', { durable: true }));
const { cleanup } = broker;

function transport(log = new MemoryLogger()): AmqpRpcTransport {
  const t = new AmqpRpcTransport(AMQP_URL, { log, clientName: 'wire_test', drainMs: 200 });
  broker.track(t);
  return t;
}

/** A raw reply queue, as Nameko's standalone proxy declares it. */
async function replyQueue(): Promise<{ uuid: string; replies: ConsumeMessage[] }> {
  const uuid = randomUUID();
  const queue = `rpc.reply-standalone_rpc_proxy-${uuid}`;
  cleanup.add({ queues: [queue] });
  await broker.ch.assertQueue(queue, { durable: true, arguments: { 'x-expires': 300000 } });
  await broker.ch.bindQueue(queue, 'nameko-rpc', uuid);
  const replies: ConsumeMessage[] = [];
  await broker.ch.consume(queue, (m) => void (m && replies.push(m)), { noAck: true });
  return { uuid, replies };
}

type ReplyBody = { result: unknown; error: Record<string, unknown> | null };

function bodyOf(msg: Message): ReplyBody {
  return JSON.parse(msg.content.toString()) as ReplyBody;
}

const observedHeaders = {
  'nameko.language': 'en-gb',
  'nameko.user_id': 42,
  'nameko.auth_token': 'tok-123',
  'nameko.call_id_stack': ['standalone_rpc_proxy.call.3e099964-444b-474c-a179-2ffaf43cad61'],
};

describe('svc RPC server against raw Nameko-shaped requests', () => {
  const service = uniqueName('greeting_service_');
  const seen: RpcRequest[] = [];
  const log = new MemoryLogger();
  let reply: Awaited<ReturnType<typeof replyQueue>>;

  beforeAll(async () => {
    const server = transport(log);
    await server.listen([service], async (req): Promise<RpcResponse> => {
      seen.push(req);
      if (req.method === 'greet') {
        const name = req.args?.[0] ?? (req.params as { name?: string }).name;
        return { ok: true, result: `Hello, ${name as string}!` };
      }
      if (req.method === 'boom') {
        return {
          ok: false,
          error: { code: 'SVC_ERR_REMOTE', type: 'ValueError', message: 'boom' },
        };
      }
      return {
        ok: false,
        error: { code: MethodNotFoundError.code, type: 'MethodNotFoundError', message: req.method },
      };
    });
    reply = await replyQueue();
  });

  async function request(
    method: string,
    body: string,
    props: Record<string, unknown> = {},
  ): Promise<string> {
    const correlationId = randomUUID();
    broker.ch.publish('nameko-rpc', `${service}.${method}`, Buffer.from(body), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: observedHeaders,
      deliveryMode: 2,
      priority: 0,
      correlationId,
      replyTo: reply.uuid,
      ...props,
    });
    return correlationId;
  }

  async function replyTo(correlationId: string): Promise<ConsumeMessage> {
    expect(
      await eventually(() =>
        reply.replies.some((r) => r.properties.correlationId === correlationId),
      ),
    ).toBe(true);
    return reply.replies.find((r) => r.properties.correlationId === correlationId)!;
  }

  it("declares Nameko's service queue: rpc-<service>, durable, no arguments, bound with <service>.*", async () => {
    // re-declaring with Nameko's exact arguments succeeds only if they are equivalent
    const q = await broker.ch.assertQueue(`rpc-${service}`, { durable: true });
    expect(q.consumerCount).toBe(1);
    await broker.ch.assertExchange('nameko-rpc', 'topic', { durable: true });
  });

  it('answers the observed request greet("Ada") with the observed reply', async () => {
    const id = await request('greet', '{"args": ["Ada"], "kwargs": {}}');
    const msg = await replyTo(id);
    expect(bodyOf(msg)).toEqual({ result: 'Hello, Ada!', error: null });
    expect(msg.fields.exchange).toBe('nameko-rpc');
    expect(msg.fields.routingKey).toBe(reply.uuid);
    expect(msg.properties).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 0,
      correlationId: id,
      headers: {},
    });
    const req = seen.find((r) => r.method === 'greet')!;
    expect(req).toMatchObject({ service, method: 'greet', params: {}, args: ['Ada'] });
    expect(req.headers.callIdStack).toEqual(observedHeaders['nameko.call_id_stack']);
    expect(req.headers.data).toEqual({ language: 'en-gb', user_id: 42, auth_token: 'tok-123' });
    expect(typeof req.headers.traceId).toBe('string');
    // A Nameko caller sends no deadline.
    expect(req.timeout).toBeUndefined();
  });

  it("reads svc's x-svc-timeout-ms as the request's deadline, also as a Nameko hop forwards it", async () => {
    for (const key of ['x-svc-timeout-ms', 'nameko.x-svc-timeout-ms']) {
      const id = await request('greet', '{"args": ["Deadline"], "kwargs": {}}', {
        headers: { ...observedHeaders, [key]: 1234 },
      });
      await replyTo(id);
      const req = seen.filter((r) => r.method === 'greet').at(-1)!;
      expect(req.timeout, key).toBe(1234);
      // svc's own header is never context data.
      expect(req.headers.data).toEqual({ language: 'en-gb', user_id: 42, auth_token: 'tok-123' });
    }
  });

  it('passes kwargs as params and leaves args out when empty', async () => {
    const id = await request('greet', '{"args": [], "kwargs": {"name": "Linus"}}');
    expect(bodyOf(await replyTo(id)).result).toBe('Hello, Linus!');
    const req = seen.filter((r) => r.method === 'greet').at(-1)!;
    expect(req.params).toEqual({ name: 'Linus' });
    expect(req.args).toBeUndefined();
  });

  it("answers errors with Nameko's error dict (ValueError, MethodNotFound, MalformedRequest)", async () => {
    const boom = bodyOf(await replyTo(await request('boom', '{"args": [], "kwargs": {}}')));
    expect(boom.result).toBeNull();
    expect(boom.error).toMatchObject({ exc_type: 'ValueError', exc_args: ['boom'], value: 'boom' });

    const nope = bodyOf(await replyTo(await request('nope', '{"args": [], "kwargs": {}}')));
    expect(nope.error).toMatchObject({
      exc_type: 'MethodNotFound',
      exc_path: 'nameko.exceptions.MethodNotFound',
      exc_args: ['nope'],
      value: 'nope',
    });

    const malformed = bodyOf(await replyTo(await request('greet', '{"args": ["x"]}')));
    expect(malformed).toMatchObject({
      result: null,
      error: {
        exc_type: 'MalformedRequest',
        exc_path: 'nameko.exceptions.MalformedRequest',
        exc_args: ['Message missing `args` or `kwargs`'],
        value: 'Message missing `args` or `kwargs`',
      },
    });
  });

  it('handles every non-conforming request of §1.10 without crashing or looping', async () => {
    const before = seen.length;
    // no reply_to: nowhere to answer, so it goes to the dead-letter queue
    broker.ch.publish(
      'nameko-rpc',
      `${service}.greet`,
      Buffer.from('{"args": ["x"], "kwargs": {}}'),
      {
        contentType: 'application/json',
        correlationId: 'no-reply-to',
        headers: { 'nameko.trace_id': 'tr-dead' },
      },
    );
    // no content type, a wrong one, a parameterised one, bad JSON: answered with MalformedRequest
    const noType = await request('greet', '{"args": ["x"], "kwargs": {}}', {
      contentType: undefined,
    });
    const text = await request('greet', '{"args": ["x"], "kwargs": {}}', {
      contentType: 'text/plain',
    });
    const charset = await request('greet', '{"args": ["x"], "kwargs": {}}', {
      contentType: 'application/json; charset=utf-8',
    });
    const bad = await request('greet', '{"args": [');
    for (const id of [noType, text, charset, bad]) {
      const body = bodyOf(await replyTo(id));
      expect(body.result).toBeNull();
      expect(body.error?.['exc_type']).toBe('MalformedRequest');
    }
    // no correlation id: answered without one, as Nameko does
    broker.ch.publish(
      'nameko-rpc',
      `${service}.greet`,
      Buffer.from('{"args": ["nocorr"], "kwargs": {}}'),
      {
        contentType: 'application/json',
        replyTo: reply.uuid,
      },
    );
    expect(
      await eventually(() =>
        reply.replies.some(
          (r) =>
            r.properties.correlationId === undefined && r.content.toString().includes('nocorr'),
        ),
      ),
    ).toBe(true);
    // the request without reply_to sits in rpc-<service>.dead, once
    const dead = `rpc-${service}.dead`;
    let got: GetMessage | false = false;
    expect(
      await eventually(async () => {
        got = await broker.ch.get(dead, { noAck: true }).catch(() => false as const);
        return got !== false;
      }),
    ).toBe(true);
    const deadMsg = got as unknown as GetMessage;
    expect(deadMsg.properties.correlationId).toBe('no-reply-to');
    expect(String(deadMsg.properties.headers?.['x-svc-dead-reason'])).toContain('reply_to');
    // of all these, the handler ran only for the well-formed one without a correlation id
    expect(seen.length - before).toBe(1);
    expect(log.records.some((r) => r.level === 'warn' && r['queue'] === `rpc-${service}`)).toBe(
      true,
    );
    // The dead-lettering line names the request's trace (`svc tail --trace` shows it).
    const buried = log.records.filter((r) => r.msg.startsWith('RPC request without reply_to'));
    expect(buried.map((r) => r['traceId'])).toEqual(['tr-dead']);
    // still serving, and nothing left behind in the service queue
    const ok = bodyOf(await replyTo(await request('greet', '{"args": ["again"], "kwargs": {}}')));
    expect(ok).toEqual({ result: 'Hello, again!', error: null });
    const q = await broker.ch.checkQueue(`rpc-${service}`);
    expect(q.messageCount).toBe(0);
  });
});

describe('svc RPC client against a raw Nameko-shaped server', () => {
  const service = uniqueName('greeting_service_');
  const requests: ConsumeMessage[] = [];
  const answers: string[] = [];
  /** Set by a test that answers requests itself: the consumer then only acks them. */
  let holding = false;
  const answer = (m: ConsumeMessage, body: string, correlationId: string) =>
    broker.ch.publish('nameko-rpc', m.properties.replyTo as string, Buffer.from(body), {
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      headers: {},
      deliveryMode: 2,
      priority: 0,
      correlationId,
    });

  beforeAll(async () => {
    const queue = `rpc-${service}`;
    cleanup.add({ queues: [queue] });
    await broker.ch.assertQueue(queue, { durable: true });
    await broker.ch.bindQueue(queue, 'nameko-rpc', `${service}.*`);
    await broker.ch.consume(queue, (m) => {
      if (!m) return;
      requests.push(m);
      if (!holding) {
        const body = answers.shift() ?? '{"result": null, "error": null}';
        answer(m, body, m.properties.correlationId as string);
      }
      broker.ch.ack(m);
    });
  });

  it('settles a call by its own correlation id only: a reply naming it in capitals is dropped', async () => {
    const client = transport();
    holding = true;
    try {
      const seen = requests.length;
      const call = (name: string) =>
        client.call(
          {
            service,
            method: 'greet',
            params: { name },
            headers: { traceId: 't', callIdStack: [], data: {} },
          },
          { timeout: 5000 },
        );
      const first = call('A');
      const second = call('B');
      expect(await eventually(() => requests.length >= seen + 2, 5000)).toBe(true);
      const [a, b] = requests.slice(seen) as [ConsumeMessage, ConsumeMessage];
      const idA = a.properties.correlationId as string;
      const idB = b.properties.correlationId as string;
      expect(idA).not.toBe(idB);
      // Before the real answers: A's id in capitals, and one that a lenient parser reads as
      // A's number (a trailing space).
      answer(b, '{"result": "forged", "error": null}', idA.toUpperCase());
      answer(b, '{"result": "forged", "error": null}', `${idA.slice(0, 24)}${idA.slice(25)} `);
      answer(b, '{"result": "B", "error": null}', idB);
      answer(a, '{"result": "A", "error": null}', idA);
      expect(await first).toEqual({ ok: true, result: 'A' });
      expect(await second).toEqual({ ok: true, result: 'B' });
    } finally {
      holding = false;
    }
  });

  it("sends Nameko's request shape and reads the observed replies", async () => {
    const client = transport();
    answers.push('{"result": "Hello, Linus?", "error": null}');
    const reply = await client.call(
      {
        service,
        method: 'greet_and_announce',
        params: { punctuation: '?' },
        args: ['Linus'],
        headers: {
          traceId: 'tr-1',
          callIdStack: ['web.index.1'],
          data: { language: 'en-gb', user_id: 42 },
        },
      },
      { timeout: 5000 },
    );
    expect(reply).toEqual({ ok: true, result: 'Hello, Linus?' });
    const m = requests.at(-1)!;
    expect(m.fields.exchange).toBe('nameko-rpc');
    expect(m.fields.routingKey).toBe(`${service}.greet_and_announce`);
    expect(JSON.parse(m.content.toString())).toEqual({
      args: ['Linus'],
      kwargs: { punctuation: '?' },
    });
    expect(m.properties).toMatchObject({
      contentType: 'application/json',
      contentEncoding: 'utf-8',
      deliveryMode: 2,
      priority: 0,
      headers: {
        'nameko.language': 'en-gb',
        'nameko.user_id': 42,
        'nameko.call_id_stack': ['web.index.1'],
        'nameko.trace_id': 'tr-1',
        // svc's own, which Nameko ignores: the call's deadline, as milliseconds left...
        'x-svc-timeout-ms': 5000,
      },
      // ...and as the message's TTL, so that the broker drops it once its caller gave up.
      expiration: '5000',
    });
    const replyTo = m.properties.replyTo as string;
    expect(replyTo).toMatch(/^[0-9a-f-]{36}$/);
    expect(m.properties.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    // Nameko 2.9+'s reply queue: rpc.reply-<name>-<uuid>, durable, x-expires 300000, bound with <uuid>
    expect(client.replyQueue).toBe(`rpc.reply-wire_test-${replyTo}`);
    const q = await broker.ch.assertQueue(client.replyQueue, {
      durable: true,
      arguments: { 'x-expires': 300000 },
    });
    expect(q.consumerCount).toBe(1);
  });

  it("maps Nameko's error dicts to svc errors", async () => {
    const client = transport();
    const call = () =>
      client.call(
        { service, method: 'x', params: {}, headers: { traceId: 't', callIdStack: [], data: {} } },
        { timeout: 5000 },
      );
    answers.push(
      '{"result": null, "error": {"exc_type": "ValueError", "exc_path": "builtins.ValueError", "exc_args": ["boom"], "value": "boom"}}',
      '{"result": null, "error": {"exc_type": "MethodNotFound", "exc_path": "nameko.exceptions.MethodNotFound", "exc_args": ["nope"], "value": "nope"}}',
      '{"result": null, "error": {"exc_type": "MalformedRequest", "exc_path": "nameko.exceptions.MalformedRequest", "exc_args": ["Message missing `args` or `kwargs`"], "value": "Message missing `args` or `kwargs`"}}',
    );
    const valueError = await call();
    expect(valueError).toEqual({
      ok: false,
      error: { code: 'SVC_ERR_REMOTE', type: 'ValueError', message: 'boom' },
    });
    const err = fromWireError(valueError.ok ? null : valueError.error);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err.message).toBe('ValueError: boom');
    const notFound = await call();
    expect(notFound.ok ? null : notFound.error).toMatchObject({
      code: 'SVC_ERR_METHOD_NOT_FOUND',
      message: 'nope',
    });
    const malformed = await call();
    expect(malformed.ok ? null : malformed.error).toMatchObject({
      code: 'SVC_ERR_MALFORMED_REQUEST',
      message: 'Message missing `args` or `kwargs`',
    });
  });

  it('fails a call to a service without a queue with UnknownServiceError (mandatory publish), not a timeout', async () => {
    const client = transport();
    await expect(
      client.call(
        {
          service: `nobody_${Date.now()}`,
          method: 'x',
          params: {},
          headers: { traceId: 't', callIdStack: [], data: {} },
        },
        { timeout: 30_000 },
      ),
    ).rejects.toMatchObject({ code: 'SVC_ERR_UNKNOWN_SERVICE' });
  });
});
