import type { Message } from 'amqplib';
import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { JsonSerializer } from '../serializers/json.js';
import {
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  requestProblem,
} from './rpc-codec.js';

const json = new JsonSerializer();

function message(
  routingKey: string,
  body: string,
  properties: Record<string, unknown> = {},
): Message {
  return {
    content: Buffer.from(body),
    fields: { deliveryTag: 1, redelivered: false, exchange: 'nameko-rpc', routingKey },
    properties: { contentType: 'application/json', headers: {}, ...properties },
  } as unknown as Message;
}

describe("Nameko's RPC bodies", () => {
  it('reads the observed request: positional args, kwargs as params, context headers', () => {
    const decoded = decodeRequest(
      'greeting_service',
      message('greeting_service.greet', '{"args": ["Ada"], "kwargs": {}}', {
        headers: { 'nameko.language': 'en-gb', 'nameko.call_id_stack': ['p.call.1'] },
      }),
      json,
    );
    expect(decoded).toMatchObject({
      request: {
        service: 'greeting_service',
        method: 'greet',
        params: {},
        args: ['Ada'],
        headers: { callIdStack: ['p.call.1'], data: { language: 'en-gb' } },
      },
    });
  });

  it('answers malformed bodies and foreign routing keys with Nameko error codes', () => {
    const err = (key: string, body: string) => {
      const d = decodeRequest('svc', message(key, body), json);
      return 'error' in d ? d.error.code : 'none';
    };
    expect(err('svc.m', '{"args": []}')).toBe('SVC_ERR_MALFORMED_REQUEST');
    expect(err('svc.m', '{"kwargs": {}}')).toBe('SVC_ERR_MALFORMED_REQUEST');
    expect(err('svc.m', '{"args": {}, "kwargs": {}}')).toBe('SVC_ERR_MALFORMED_REQUEST');
    expect(err('svc.m', '[1, 2]')).toBe('SVC_ERR_MALFORMED_REQUEST');
    expect(err('svc.m', '{"args": [')).toBe('SVC_ERR_MALFORMED_REQUEST');
    expect(err('other.m', '{"args": [], "kwargs": {}}')).toBe('SVC_ERR_METHOD_NOT_FOUND');
    expect(requestProblem(message('svc.m', '{}', { contentType: undefined }))).toContain(
      'no content type',
    );
    expect(requestProblem(message('svc.m', '{}', { contentType: 'text/plain' }))).toContain(
      'text/plain',
    );
    expect(requestProblem(message('svc.m', '{}'))).toBeUndefined();
  });

  it('encodes requests and replies as Nameko does and reads them back', () => {
    const headers = { traceId: 't', callIdStack: [], data: {} };
    expect(
      JSON.parse(
        encodeRequest(
          { service: 's', method: 'm', params: { p: 1 }, args: ['a'], headers },
          json,
        ).toString(),
      ),
    ).toEqual({
      args: ['a'],
      kwargs: { p: 1 },
    });
    expect(
      JSON.parse(
        encodeRequest({ service: 's', method: 'm', params: undefined, headers }, json).toString(),
      ),
    ).toEqual({
      args: [],
      kwargs: {},
    });
    const ok = encodeReply({ ok: true, result: 'Hello, Ada!' }, json);
    expect(ok.toString()).toBe('{"result":"Hello, Ada!","error":null}');
    expect(decodeReply(ok, json, 's')).toEqual({ ok: true, result: 'Hello, Ada!' });
    const unserializable = decodeReply(encodeReply({ ok: true, result: 10n }, json), json, 's');
    expect(unserializable).toMatchObject({ ok: false, error: { code: 'SVC_ERR_SERIALIZE' } });
    expect(() => decodeReply(Buffer.from('nope'), json, 's')).toThrow(DecodeError);
    expect(() => decodeReply(Buffer.from('[]'), json, 's')).toThrow(DecodeError);
  });
});
