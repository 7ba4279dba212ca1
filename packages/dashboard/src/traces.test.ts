import type { LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { TraceIndex, buildTrace, limitTrace, spanOf, type Span } from './traces.js';

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

/** The same request's records with OTLP export on: each callee names the span its caller sent. */
function exportedRecords(): LogRecord[] {
  const ids: Record<string, Record<string, unknown>> = {
    'About to greet Sam': { spanId: 'aaaaaaaaaaaaaaaa' },
    'Saying hi to Sam': { spanId: 'bbbbbbbbbbbbbbbb' },
    'Somebody greeted Sam': { spanId: 'cccccccccccccccc' },
    'event Listen.onGreeted ok': { spanId: 'cccccccccccccccc', parentSpanId: '2222222222222222' },
    'rpc Greeting.greet ok': {
      spanId: 'bbbbbbbbbbbbbbbb',
      parentSpanId: '1111111111111111',
      sentSpanIds: ['2222222222222222'],
    },
    'http Web.greet ok': { spanId: 'aaaaaaaaaaaaaaaa', sentSpanIds: ['1111111111111111'] },
    'http GET /greet 200': { spanId: 'aaaaaaaaaaaaaaaa' },
  };
  return greetRecords().map((r) => ({ ...r, ...ids[r.msg] }));
}

/** Every span once, each after its parent: a tree. */
function expectTree(spans: readonly Span[], count: number): void {
  expect(spans).toHaveLength(count);
  const seen = new Set<string>();
  for (const s of spans) {
    if (s.parentId !== undefined) expect(seen.has(s.parentId)).toBe(true);
    else expect(s.inferred).toBe(false);
    seen.add(s.id);
  }
  expect(seen.size).toBe(count);
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
    // Nothing names a parent: every step but the first (nothing to guess) is nested by timing.
    expect(trace.spans.map((s) => s.inferred)).toEqual([false, true, true, true]);
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

  it('nests a call under the step whose record lists the span it was sent by, as reported', () => {
    const trace = buildTrace(T, exportedRecords());
    expect(trace.spans.map((s) => s.name)).toEqual([
      'GET /greet 200',
      'Web.greet',
      'Greeting.greet',
      'Listen.onGreeted',
    ]);
    const [request, handler, rpc, event] = trace.spans;
    expect(handler).toMatchObject({ parentId: request!.id, inferred: false });
    expect(rpc).toMatchObject({ parentId: handler!.id, inferred: false });
    expect(event).toMatchObject({ parentId: rpc!.id, inferred: false });
    expect(trace.spans.some((s) => s.inferred)).toBe(false);
    expect(rpc!.logs.map((l) => l.msg)).toEqual(['Saying hi to Sam']);
  });

  it('nests an event handler under the emitter that lists it even when it seems to start first', () => {
    // Greeting emits at once and returns; Listen's handler, longer, starts in the same millisecond
    // as Greeting's method: by time alone it would come first.
    const records = exportedRecords();
    const greet = records.find((r) => r['entrypoint'] === 'Greeting.greet')!;
    const listen = records.find((r) => r['entrypoint'] === 'Listen.onGreeted')!;
    greet.time = 1000430;
    greet['duration_ms'] = 2;
    listen.time = 1000440;
    listen['duration_ms'] = 12.5;
    const trace = buildTrace(T, records);
    const rpc = trace.spans.find((s) => s.name === 'Greeting.greet')!;
    const event = trace.spans.find((s) => s.name === 'Listen.onGreeted')!;
    expect(event).toMatchObject({ parentId: rpc.id, inferred: false });
    expectTree(trace.spans, 4);
  });

  it('guesses from timing the parent of a call whose sending span no record lists', () => {
    // Web's worker sent more than 256 calls (or its record is gone): Greeting's parent is guessed.
    const records = exportedRecords();
    delete records.find((r) => r['entrypoint'] === 'Web.greet')!['sentSpanIds'];
    const trace = buildTrace(T, records);
    const handler = trace.spans.find((s) => s.name === 'Web.greet')!;
    const rpc = trace.spans.find((s) => s.name === 'Greeting.greet')!;
    const event = trace.spans.find((s) => s.name === 'Listen.onGreeted')!;
    expect(rpc).toMatchObject({ parentId: handler.id, inferred: true });
    expect(event).toMatchObject({ parentId: rpc.id, inferred: false });
  });

  it('makes a tree of records that name themselves, each other in a cycle, or one sent id twice', () => {
    const step = (time: number, name: string, spanId: string, extra = {}): LogRecord => ({
      time,
      level: 'info',
      msg: `rpc ${name} ok`,
      instance: name,
      service: name.split('.')[0]!,
      traceId: T,
      spanId,
      kind: 'rpc',
      entrypoint: name,
      duration_ms: 10,
      ...extra,
    });
    const records: LogRecord[] = [
      step(100, 'Root.a', 'r000000000000000', { sentSpanIds: ['1111111111111111'] }),
      // lists the id it reports as its own parent
      step(110, 'Self.a', 's000000000000000', {
        parentSpanId: 'x000000000000000',
        sentSpanIds: ['x000000000000000'],
      }),
      // two spans reporting each other's span ids as their parents
      step(120, 'Loop.a', 'a000000000000000', { parentSpanId: 'b000000000000000' }),
      step(125, 'Loop.b', 'b000000000000000', { parentSpanId: 'a000000000000000' }),
      // a cycle through sent ids, of three
      step(130, 'Ring.a', 'c000000000000000', {
        parentSpanId: '3333333333333333',
        sentSpanIds: ['4444444444444444'],
      }),
      step(135, 'Ring.b', 'd000000000000000', {
        parentSpanId: '4444444444444444',
        sentSpanIds: ['5555555555555555'],
      }),
      step(140, 'Ring.c', 'e000000000000000', {
        parentSpanId: '5555555555555555',
        sentSpanIds: ['3333333333333333'],
      }),
      // a later record claims the root's sent id too, and one lists garbage
      step(150, 'Thief.a', 'f000000000000000', {
        sentSpanIds: ['1111111111111111', 7, null, { length: 1 }],
      }),
      step(160, 'Child.a', '9000000000000000', { parentSpanId: '1111111111111111' }),
      // reports its own span id as its parent
      step(170, 'Own.a', '8000000000000000', { parentSpanId: '8000000000000000' }),
    ];
    for (const order of ['as written', 'reversed']) {
      const trace = buildTrace(T, order === 'reversed' ? [...records].reverse() : records);
      expectTree(trace.spans, records.length);
      const byName = (name: string) => trace.spans.find((s) => s.name === name)!;
      // The first claimant is the parent, exactly.
      expect(byName('Child.a'), order).toMatchObject({
        parentId: byName('Root.a').id,
        inferred: false,
      });
      for (const name of ['Self.a', 'Own.a'])
        expect(byName(name).parentId).not.toBe(byName(name).id);
      // Each cycle is cut once, at its earliest span: the others keep their exact parents.
      expect(byName('Loop.a').inferred).toBe(true);
      expect(byName('Loop.b')).toMatchObject({ parentId: byName('Loop.a').id, inferred: false });
      expect(byName('Ring.a').inferred).toBe(true);
      expect(byName('Ring.b')).toMatchObject({ parentId: byName('Ring.a').id, inferred: false });
      expect(byName('Ring.c')).toMatchObject({ parentId: byName('Ring.b').id, inferred: false });
    }
  });

  it('makes a tree of any records that reuse a few span ids every way', () => {
    // A fixed pseudo-random sequence (a linear congruential generator): the same cases every run.
    let seed = 42;
    const next = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => c.repeat(16));
    for (let round = 0; round < 300; round++) {
      const records: LogRecord[] = [];
      const count = 1 + next(12);
      for (let i = 0; i < count; i++) {
        const record: LogRecord = {
          time: 1000 + next(20),
          level: 'info',
          msg: 'step',
          instance: `i${next(3)}`,
          traceId: T,
          kind: ['rpc', 'event', 'http'][next(3)]!,
          entrypoint: `S.m${i}`,
          duration_ms: next(15) / 2,
        };
        if (next(4) > 0) record.spanId = ids[next(ids.length)]!;
        if (next(4) > 0) record['parentSpanId'] = ids[next(ids.length)]!;
        if (next(3) > 0)
          record['sentSpanIds'] = Array.from({ length: next(4) }, () => ids[next(ids.length)]!);
        records.push(record);
      }
      expectTree(buildTrace(T, records).spans, count);
    }
  });

  it('builds a trace of a chain of calls 50,000 deep, every call under its caller', () => {
    // A recursion as deep would overflow the stack: the depth-first order is kept on a stack.
    const depth = 50_000;
    const id = (i: number) => (i + 1).toString(16).padStart(16, '0');
    const records: LogRecord[] = [];
    for (let i = 0; i < depth; i++) {
      records.push({
        time: 2_000_000 - i,
        level: 'info',
        msg: 'rpc Loop.step ok',
        service: 'Loop',
        instance: 'loop-1',
        traceId: T,
        spanId: id(i),
        ...(i > 0 ? { parentSpanId: id(i - 1) } : {}),
        kind: 'rpc',
        entrypoint: 'Loop.step',
        duration_ms: 2 * (depth - i),
      });
    }
    const trace = buildTrace(T, records);
    expect(trace.spans).toHaveLength(depth);
    expect(
      trace.spans.every((s, i) => s.parentId === (i === 0 ? undefined : trace.spans[i - 1]!.id)),
    ).toBe(true);
    expect(trace.spans.some((s) => s.inferred)).toBe(false);
  });

  it('gives the log lines of a trace of 200,000 records their steps, or the trace', () => {
    // 200,000 spread into Math.min overflowed the stack; each line scanned every span.
    const records: LogRecord[] = [];
    const outer = { time: 1_000_000, duration: 100_000 };
    records.push({
      time: outer.time,
      level: 'info',
      msg: 'timer Batch.run ok',
      service: 'Batch',
      instance: 'batch-1',
      traceId: T,
      kind: 'timer',
      entrypoint: 'Batch.run',
      duration_ms: outer.duration,
    });
    for (let i = 0; i < 200_000; i++) {
      const instance = i % 2 === 0 ? 'batch-1' : 'elsewhere';
      records.push({
        time: 900_001 + (i % 99_999),
        level: 'info',
        msg: `line ${i}`,
        service: 'Batch',
        instance,
        traceId: T,
      });
    }
    // A short step inside, with a line of its own time.
    records.push({
      time: 950_010,
      level: 'info',
      msg: 'rpc Batch.one ok',
      service: 'Batch',
      instance: 'batch-1',
      traceId: T,
      kind: 'rpc',
      entrypoint: 'Batch.one',
      duration_ms: 10,
    });
    const trace = buildTrace(T, records);
    const [run, one] = [trace.spans[0]!, trace.spans[1]!];
    expect([run.name, one.name]).toEqual(['Batch.run', 'Batch.one']);
    expect(one.parentId).toBe(run.id);
    expect(trace.logs).toHaveLength(100_000);
    expect(run.logs.length + one.logs.length).toBe(100_000);
    expect(one.logs.every((r) => r.time >= 950_000 - 1 && r.time <= 950_010 + 1)).toBe(true);
    expect(one.logs.length).toBeGreaterThan(0);
    expect(trace.start).toBe(900_000);
    expect(trace.duration).toBe(100_000);
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

describe('limitTrace', () => {
  it('keeps the first steps depth-first and the first records, and counts the rest', () => {
    const whole = buildTrace(T, greetRecords());
    expect(limitTrace(whole, 10, 100)).toBe(whole);
    const names = whole.spans.map((s) => s.name);
    const cut = limitTrace(whole, 2, 1);
    expect(cut.spans.map((s) => s.name)).toEqual(names.slice(0, 2));
    expect(cut.spans[1]!.parentId).toBe(cut.spans[0]!.id);
    const shownRecords = cut.spans.reduce((n, s) => n + s.logs.length, cut.logs.length);
    const allRecords = whole.spans.reduce((n, s) => n + s.logs.length, whole.logs.length);
    expect(shownRecords).toBe(1);
    expect(cut.omitted).toEqual({ spans: names.length - 2, records: allRecords - 1 });
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
