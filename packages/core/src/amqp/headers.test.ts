import { describe, expect, it } from 'vitest';
import { decodeHeaders, encodeHeaders } from './headers.js';

describe('AMQP context headers (Nameko HeaderEncoder/HeaderDecoder)', () => {
  it('prefixes every context key with nameko., drops nulls, adds the stack and trace id', () => {
    expect(
      encodeHeaders({
        traceId: 't-1',
        callIdStack: ['a.b.1'],
        data: { language: 'en-gb', user_id: 42, gone: null, nothing: undefined },
      }),
    ).toEqual({
      'nameko.language': 'en-gb',
      'nameko.user_id': 42,
      'nameko.call_id_stack': ['a.b.1'],
      'nameko.trace_id': 't-1',
    });
  });

  it('reads the observed Nameko headers back, keeping foreign headers as data', () => {
    const h = decodeHeaders({
      'nameko.language': 'fr',
      'nameko.call_id_stack': ['ts-client.call.1'],
      'x-custom': 'abc',
      'nameko.tenant': 't1',
    });
    expect(h.callIdStack).toEqual(['ts-client.call.1']);
    expect(h.data).toEqual({ language: 'fr', 'x-custom': 'abc', tenant: 't1' });
    expect(h.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('round-trips svc headers and ignores broker bookkeeping and bad values', () => {
    const headers = { traceId: 'tr', callIdStack: ['x.y.1', 'z.w.2'], data: { lang: 'en' } };
    expect(decodeHeaders(encodeHeaders(headers))).toEqual(headers);
    const h = decodeHeaders({
      'nameko.call_id_stack': ['ok', 3, null],
      'x-death': [{ count: 1 }],
      'x-first-death-queue': 'q',
      'x-svc-dead-reason': 'why',
    });
    expect(h.callIdStack).toEqual(['ok']);
    expect(h.data).toEqual({});
    expect(decodeHeaders(undefined).callIdStack).toEqual([]);
  });

  it('sends W3C traceparent and tracestate beside the nameko.* headers, and reads them back', () => {
    const headers = {
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      callIdStack: ['a.b.1'],
      data: { lang: 'en' },
      spanId: '00f067aa0ba902b7',
      traceFlags: 1,
      traceState: 'vendor=abc',
    };
    const wire = encodeHeaders(headers);
    expect(wire).toEqual({
      'nameko.lang': 'en',
      'nameko.call_id_stack': ['a.b.1'],
      'nameko.trace_id': '4bf92f3577b34da6a3ce929d0e0e4736',
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      tracestate: 'vendor=abc',
    });
    expect(decodeHeaders(wire)).toEqual(headers);
  });

  it('drops a traceparent a Nameko worker forwarded as context data, and a malformed one', () => {
    const h = decodeHeaders({
      'nameko.trace_id': 'tr',
      'nameko.traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      'nameko.tracestate': 'old=1',
    });
    expect(h).toEqual({ traceId: 'tr', callIdStack: [], data: {} });
    const bad = decodeHeaders({ traceparent: '00-xyz-00f067aa0ba902b7-01' });
    expect(bad.spanId).toBeUndefined();
    expect(bad.data).toEqual({});
  });

  it('joins the trace of a peer that sends only traceparent (OpenTelemetry-instrumented Nameko)', () => {
    const h = decodeHeaders({
      traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00',
    });
    expect(h).toMatchObject({
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      spanId: '00f067aa0ba902b7',
      traceFlags: 0,
    });
  });
});
