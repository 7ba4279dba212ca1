import type { LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { renderRecord } from './render.js';
import { MAX_DEPTH, spanTree } from './tree.js';

/** A worker's outcome record: its span, its parent's, when it ended and how long it ran. */
function call(msg: string, spanId: string, parent: string | undefined, time: number, ms: number) {
  const r: LogRecord = { time, level: 'info', msg, spanId, duration_ms: ms };
  if (parent !== undefined) r['parentSpanId'] = parent;
  return r;
}

/** A log line made inside the worker of `spanId`. */
function line(msg: string, spanId: string | undefined, time: number): LogRecord {
  return spanId === undefined ? { time, level: 'info', msg } : { time, level: 'info', msg, spanId };
}

/** `msg` indented two spaces a level: what the tree looks like. */
function shape(records: LogRecord[], maxDepth?: number): string[] {
  return spanTree(records, maxDepth).map((l) => `${'  '.repeat(l.depth)}${l.record.msg}`);
}

describe('spanTree', () => {
  it('puts each call under the call that made it, and its log lines under it, in time order', () => {
    // The lymph tour as the rings hold it: every record's time is when it was written.
    const records = [
      line('About to greet Ann', 'web', 1007),
      line('Saying hi to Ann', 'greet', 1011),
      line('Somebody greeted Ann', 'listen', 1011),
      call('rpc Greeting.greet ok', 'greet', 'web', 1012, 1.5),
      call('event Listen.onGreeted ok', 'listen', 'greet', 1012, 0.5),
      call('http Web.greet ok', 'web', undefined, 1013, 6.5),
      { ...call('http GET /greet 200', 'web', undefined, 1014, 9.5), method: 'GET' },
    ];
    expect(shape(records)).toEqual([
      'http GET /greet 200',
      '  http Web.greet ok',
      '    About to greet Ann',
      '    rpc Greeting.greet ok',
      '      Saying hi to Ann',
      '      event Listen.onGreeted ok',
      '        Somebody greeted Ann',
    ]);
  });

  it('puts a call under the worker that sent it when the call had a client span of its own (export on)', () => {
    // The tour with spans exported: Greeting's parent is Web's client span, Listen's is Greeting's
    // producer span; neither has a record, and the workers that sent them list their ids.
    const records = [
      line('About to greet Ann', 'web', 1007),
      line('Saying hi to Ann', 'greet', 1011),
      line('Somebody greeted Ann', 'listen', 1011),
      {
        ...call('rpc Greeting.greet ok', 'greet', 'client-of-web', 1012, 1.5),
        sentSpanIds: ['producer-of-greet'],
      },
      call('event Listen.onGreeted ok', 'listen', 'producer-of-greet', 1012, 0.5),
      { ...call('http Web.greet ok', 'web', undefined, 1013, 6.5), sentSpanIds: ['client-of-web'] },
      { ...call('http GET /greet 200', 'web', undefined, 1014, 9.5), method: 'GET' },
      // A list that is not one is ignored.
      { ...call('rpc Other.x ok', 'other', 'elsewhere', 1020, 1), sentSpanIds: 'client-of-web' },
    ];
    expect(shape(records)).toEqual([
      'http GET /greet 200',
      '  http Web.greet ok',
      '    About to greet Ann',
      '    rpc Greeting.greet ok',
      '      Saying hi to Ann',
      '      event Listen.onGreeted ok',
      '        Somebody greeted Ann',
      'rpc Other.x ok',
    ]);
  });

  it('puts an HTTP request outside its handler even when whole-millisecond times say it started later', () => {
    // Handler 1009.95–1013.95, request 1009.85–1014.05: written as 1013 and 1014.
    const records = [
      call('http Web.greet ok', 'web', undefined, 1013, 4.0),
      { ...call('http GET /greet 200', 'web', undefined, 1014, 4.2), method: 'GET' },
      line('inside', 'web', 1010),
    ];
    expect(shape(records)).toEqual(['http GET /greet 200', '  http Web.greet ok', '    inside']);
  });

  it('orders sibling calls by when they started, not by when their records were written', () => {
    const records = [
      call('rpc B.slow ok', 'b', 'a', 1050, 45), // started at 1005
      call('rpc C.fast ok', 'c', 'a', 1020, 5), // started at 1015
      line('between', 'a', 1010),
      call('rpc A.run ok', 'a', undefined, 1060, 60),
    ];
    expect(shape(records)).toEqual([
      'rpc A.run ok',
      '  rpc B.slow ok',
      '  between',
      '  rpc C.fast ok',
    ]);
  });

  it('puts a span whose parent is not among the records, and a record of no span, at the top in time order', () => {
    const records = [
      line('made outside any worker', undefined, 1000),
      call('rpc B.x ok', 'b', 'gone', 1010, 2), // its caller's records have left the ring
      line('inside b', 'b', 1009),
      call('rpc A.y ok', 'a', undefined, 1020, 1),
      line('a span without its outcome record', 'c', 1030),
    ];
    expect(shape(records)).toEqual([
      'made outside any worker',
      'rpc B.x ok',
      '  inside b',
      'rpc A.y ok',
      'a span without its outcome record',
    ]);
  });

  it('prints every record once when spans name themselves or each other as parents', () => {
    const records = [
      call('rpc Self.x ok', 's', 's', 1000, 1),
      line('inside self', 's', 1000),
      call('rpc A.x ok', 'a', 'c', 1010, 1),
      call('rpc B.x ok', 'b', 'a', 1020, 1),
      call('rpc C.x ok', 'c', 'b', 1030, 1),
      call('rpc D.x ok', 'd', 'b', 1040, 1),
    ];
    expect(shape(records)).toEqual([
      'rpc Self.x ok',
      '  inside self',
      // The cycle a → b → c → a starts at its earliest span.
      'rpc A.x ok',
      '  rpc B.x ok',
      '    rpc C.x ok',
      '    rpc D.x ok',
    ]);
  });

  it('stops indenting at the depth cap on a very deep chain, without recursion', () => {
    const n = 50_000;
    const records: LogRecord[] = [];
    for (let i = 0; i < n; i++)
      records.push(call(`rpc S.c${i} ok`, `s${i}`, i === 0 ? undefined : `s${i - 1}`, 1000 + i, 0));
    const lines = spanTree(records);
    expect(lines).toHaveLength(n);
    expect(lines.slice(0, 3).map((l) => l.depth)).toEqual([0, 1, 2]);
    expect(Math.max(...lines.map((l) => l.depth))).toBe(MAX_DEPTH);
    expect(lines[n - 1]).toMatchObject({ depth: MAX_DEPTH, record: { msg: `rpc S.c${n - 1} ok` } });
    expect(shape(records.slice(0, 6), 2).slice(2)).toEqual([
      '    rpc S.c2 ok',
      '    rpc S.c3 ok',
      '    rpc S.c4 ok',
      '    rpc S.c5 ok',
    ]);
  });

  it('nests the 100,000 calls of one batch job under their caller, each with its own line', () => {
    // A guard on size: every child found by a scan of the other spans would take minutes.
    const n = 100_000;
    const records: LogRecord[] = [
      call('timer Batch.run ok', 'root', undefined, 1000 + 2 * n, 2 * n),
    ];
    for (let i = 0; i < n; i++) {
      records.push(line(`item ${i}`, `c${i}`, 1000 + 2 * i));
      records.push(call(`rpc Item.do ok`, `c${i}`, 'root', 1001 + 2 * i, 1));
    }
    const lines = spanTree(records);
    expect(lines).toHaveLength(2 * n + 1);
    expect(lines[0]).toMatchObject({ depth: 0, record: { msg: 'timer Batch.run ok' } });
    expect(
      lines
        .slice(1)
        .every((l, k) =>
          k % 2 === 0
            ? l.depth === 1 && l.record.msg === 'rpc Item.do ok' && l.record.spanId === `c${k / 2}`
            : l.depth === 2 && l.record.msg === `item ${(k - 1) / 2}`,
        ),
    ).toBe(true);
  });

  it('keeps its column layout: the indentation goes before the message, after the trace id', () => {
    const base = { time: 0, level: 'info' as const, msg: 'hi', traceId: 'a'.repeat(32) };
    const flat = renderRecord(base, { color: false });
    const deep = renderRecord(base, { color: false, indent: 2 });
    expect(deep).toBe(flat.replace('  hi', '      hi'));
  });
});
