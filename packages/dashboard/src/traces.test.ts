import type { LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { TraceIndex, buildTrace, spanOf } from './traces.js';

const T = '3aee29331e4c9232c4407d3923fb1576';
const WEB = 'd5c5d0840abc37c1';
const GREETING = '0c17965415d6f507';
const LISTEN = '06b546fd727d9097';

/** The records one `GET /greet?name=Sam` left on the lymph tour (taken from a real run). */
function greetRecords(): LogRecord[] {
  const r = (time: number, instance: string, service: string, msg: string, extra = {}) => ({
    time,
    level: 'info' as const,
    msg,
    instance,
    service,
    traceId: T,
    ...extra,
  });
  return [
    r(1000413, WEB, 'Web', 'About to greet Sam'),
    r(1000428, GREETING, 'Greeting', 'Saying hi to Sam'),
    r(1000438, LISTEN, 'Listen', 'Somebody greeted Sam'),
    r(1000439, LISTEN, 'Listen', 'event Listen.onGreeted ok', {
      kind: 'event',
      entrypoint: 'Listen.onGreeted',
      duration_ms: 4.742,
    }),
    r(1000445, GREETING, 'Greeting', 'rpc Greeting.greet ok', {
      kind: 'rpc',
      entrypoint: 'Greeting.greet',
      duration_ms: 16.768,
    }),
    r(1000453, WEB, 'Web', 'http Web.greet ok', {
      kind: 'http',
      entrypoint: 'Web.greet',
      duration_ms: 41.255,
    }),
    r(1000470, WEB, 'Web', 'http GET /greet 200', {
      kind: 'http',
      method: 'GET',
      path: '/greet',
      status: 200,
      duration_ms: 60.063,
    }),
  ];
}

describe('buildTrace', () => {
  it('nests HTTP request, handler, RPC and event handler as a waterfall, each with its log lines', () => {
    const trace = buildTrace(T, greetRecords());
    expect(trace.spans.map((s) => [s.service, s.kind, s.name])).toEqual([
      ['Web', 'http', 'GET /greet 200'],
      ['Web', 'http', 'Web.greet'],
      ['Greeting', 'rpc', 'Greeting.greet'],
      ['Listen', 'event', 'Listen.onGreeted'],
    ]);
    const [request, handler, rpc, event] = trace.spans;
    expect(request!.parentId).toBeUndefined();
    expect(handler!.parentId).toBe(request!.id);
    expect(rpc!.parentId).toBe(handler!.id);
    expect(event!.parentId).toBe(rpc!.id);
    expect(handler!.logs.map((l) => l.msg)).toEqual(['About to greet Sam']);
    expect(rpc!.logs.map((l) => l.msg)).toEqual(['Saying hi to Sam']);
    expect(event!.logs.map((l) => l.msg)).toEqual(['Somebody greeted Sam']);
    expect(rpc!.start).toBeCloseTo(1000445 - 16.768, 3);
    expect(trace.start).toBeCloseTo(1000470 - 60.063, 3);
    expect(trace.duration).toBeCloseTo(60.063, 3);
    expect(trace.services).toEqual(['Greeting', 'Listen', 'Web']);
    expect(trace.spans.every((s) => s.inferred)).toBe(true);
  });

  it('makes the emitter the parent of an event handler that ran after the emitter returned', () => {
    const records = greetRecords();
    // Listen handles the event late, after Web has answered.
    const listen = records.find((r) => r.entrypoint === 'Listen.onGreeted')!;
    listen.time = 1000480;
    records.find((r) => r.msg === 'Somebody greeted Sam')!.time = 1000479;
    const trace = buildTrace(T, records);
    const rpc = trace.spans.find((s) => s.name === 'Greeting.greet')!;
    const event = trace.spans.find((s) => s.name === 'Listen.onGreeted')!;
    expect(event.parentId).toBe(rpc.id);
  });

  it('puts the longer of two spans starting within a millisecond outside the other', () => {
    // Web's handler and Greeting's method appear to start together (clock in whole ms).
    const records: LogRecord[] = [
      {
        time: 110,
        level: 'info',
        msg: 'rpc Greeting.greet ok',
        instance: 'g',
        service: 'Greeting',
        traceId: T,
        kind: 'rpc',
        entrypoint: 'Greeting.greet',
        duration_ms: 9.8,
      },
      {
        time: 111,
        level: 'info',
        msg: 'http Web.greet ok',
        instance: 'w',
        service: 'Web',
        traceId: T,
        kind: 'http',
        entrypoint: 'Web.greet',
        duration_ms: 10.5,
      },
    ];
    const trace = buildTrace(T, records);
    expect(trace.spans.map((s) => s.name)).toEqual(['Web.greet', 'Greeting.greet']);
    expect(trace.spans[1]!.parentId).toBe(trace.spans[0]!.id);
  });

  it('marks failed steps and keeps records of no step apart', () => {
    const records: LogRecord[] = [
      { time: 100, level: 'warn', msg: 'note outside any worker', instance: 'x', traceId: T },
      {
        time: 200,
        level: 'error',
        msg: 'rpc Greeting.fail failed: boom',
        instance: 'g',
        service: 'Greeting',
        traceId: T,
        kind: 'rpc',
        entrypoint: 'Greeting.fail',
        duration_ms: 2,
        error: 'Error',
        error_message: 'boom',
      },
      { time: 150, level: 'info', msg: 'another trace', traceId: 'other' },
    ];
    const trace = buildTrace(T, records);
    expect(trace.spans).toHaveLength(1);
    expect(trace.spans[0]).toMatchObject({ status: 'error', error: 'boom', name: 'Greeting.fail' });
    expect(trace.logs.map((l) => l.msg)).toEqual(['note outside any worker']);
    expect(trace.duration).toBe(100);
  });

  it("takes a step's log lines and a reported parent from the span ids its records carry", () => {
    // Two calls of one trace in one Greeting instance at once (a caller's Promise.all): the
    // record made at 107 ran in the longer one, whatever the timing says.
    const r = (time: number, spanId: string, msg: string, extra = {}) => ({
      time,
      level: 'info' as const,
      msg,
      instance: GREETING,
      service: 'Greeting',
      traceId: T,
      spanId,
      ...extra,
    });
    const outcome = (duration: number, parentSpanId: string) => ({
      kind: 'rpc',
      entrypoint: 'Greeting.greet',
      duration_ms: duration,
      parentSpanId,
    });
    const records: LogRecord[] = [
      r(1000, 'aaaaaaaaaaaaaaaa', 'http GET /greet 200', {
        kind: 'http',
        method: 'GET',
        path: '/greet',
        status: 200,
        duration_ms: 40,
        instance: WEB,
        service: 'Web',
      }),
      r(995, 'aaaaaaaaaaaaaaaa', 'http Web.greet ok', {
        kind: 'http',
        entrypoint: 'Web.greet',
        duration_ms: 30,
        instance: WEB,
        service: 'Web',
      }),
      r(107, 'bbbbbbbbbbbbbbbb', 'Saying hi to the first'),
      r(108, 'cccccccccccccccc', 'Saying hi to the second'),
      r(110, 'cccccccccccccccc', 'rpc Greeting.greet ok', outcome(5, '1111111111111111')),
      r(120, 'bbbbbbbbbbbbbbbb', 'rpc Greeting.greet ok', outcome(20, '2222222222222222')),
    ];
    const trace = buildTrace(T, records);
    const calls = trace.spans.filter((s) => s.name === 'Greeting.greet');
    const [first, second] = calls.sort((a, b) => b.duration - a.duration);
    expect(first!.logs.map((l) => l.msg)).toEqual(['Saying hi to the first']);
    expect(second!.logs.map((l) => l.msg)).toEqual(['Saying hi to the second']);
    expect(first!.spanId).toBe('bbbbbbbbbbbbbbbb');
    // The handler's records have its request's span id: nested as reported, not guessed.
    const request = trace.spans.find((s) => s.name === 'GET /greet 200')!;
    const handler = trace.spans.find((s) => s.name === 'Web.greet')!;
    expect(handler).toMatchObject({ parentId: request.id, inferred: false });
    // A caller's client span is not in the records: the calls' parents are guessed.
    expect(second!.inferred).toBe(true);
  });

  it('reads no span from records that only look like outcomes', () => {
    expect(
      spanOf({ time: 1, level: 'info', msg: 'x', traceId: T, kind: 'rpc', duration_ms: 'fast' }),
    ).toBeUndefined();
    expect(
      spanOf({ time: 1, level: 'info', msg: 'x', traceId: T, kind: 'rpc', duration_ms: -1 }),
    ).toBeUndefined();
    expect(
      spanOf({ time: 1, level: 'info', msg: 'x', kind: 'rpc', entrypoint: 'A.b', duration_ms: 1 }),
    ).toBeUndefined();
    expect(
      spanOf({ time: 1, level: 'info', msg: 'x', traceId: T, kind: 'rpc', duration_ms: 1 }),
    ).toBeUndefined();
  });
});

describe('TraceIndex', () => {
  it('names a trace by its edge whatever order its records arrive in', () => {
    const index = new TraceIndex();
    for (const r of greetRecords()) index.add(r);
    const [t] = index.recent();
    expect(t).toMatchObject({
      traceId: T,
      root: 'Web GET /greet 200',
      spans: 4,
      records: 7,
      errors: 0,
    });
    expect(t!.services).toEqual(['Greeting', 'Listen', 'Web']);
    expect(t!.duration).toBeCloseTo(60.063, 3);
  });

  it('names the HTTP request the edge when its handler ended in the same millisecond', () => {
    for (const order of ['handler first', 'request first']) {
      const index = new TraceIndex();
      const records = greetRecords();
      const handler = records.find((r) => r.entrypoint === 'Web.greet')!;
      handler.time = 1000470;
      handler['duration_ms'] = 59.5;
      if (order === 'request first') records.reverse();
      for (const r of records) index.add(r);
      expect(index.recent()[0]!.root, order).toBe('Web GET /greet 200');
    }
  });

  it('keeps the newest traces up to its capacity', () => {
    const index = new TraceIndex(3);
    for (let i = 0; i < 10; i++)
      index.add({ time: i, level: 'info', msg: 'm', traceId: `trace${i}` });
    expect(index.size).toBe(3);
    expect(index.recent().map((t) => t.traceId)).toEqual(['trace9', 'trace8', 'trace7']);
    expect(index.recent(1).map((t) => t.traceId)).toEqual(['trace9']);
  });
});
