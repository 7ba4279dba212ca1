import type { LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { LineDecoder, toRecord } from './records.js';

describe('toRecord', () => {
  it('accepts a record with time, level and message', () => {
    expect(toRecord({ time: 1, level: 'info', msg: 'x', extra: 1 })).toEqual({
      time: 1,
      level: 'info',
      msg: 'x',
      extra: 1,
    });
  });

  it('refuses values that are not log records', () => {
    for (const bad of [
      null,
      1,
      'x',
      [],
      { level: 'info', msg: 'x' },
      { time: 1, level: 'loud', msg: 'x' },
    ])
      expect(toRecord(bad)).toBeUndefined();
    expect(toRecord({ time: 1, level: 'info', msg: 'x', traceId: 5 })).toBeUndefined();
  });
});

describe('LineDecoder', () => {
  it('joins lines split across chunks and counts bad ones', () => {
    const got: LogRecord[] = [];
    const d = new LineDecoder((r) => got.push(r));
    expect(d.push('{"time":1,"level":"info","msg":"a"}\n{"time":2,"lev')).toBe(true);
    expect(d.push('el":"warn","msg":"b"}\nnot json\n{"x":1}\n\n')).toBe(true);
    expect(got.map((r) => r.msg)).toEqual(['a', 'b']);
    expect(d.bad).toBe(2);
  });

  it('never lets a line set a prototype', () => {
    const got: LogRecord[] = [];
    const d = new LineDecoder((r) => got.push(r));
    d.push('{"time":1,"level":"info","msg":"a","__proto__":{"polluted":true}}\n');
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(Object.getPrototypeOf(got[0])).not.toHaveProperty('polluted');
  });

  it('gives up on a line longer than the limit', () => {
    const d = new LineDecoder(() => {}, 100);
    expect(d.push('x'.repeat(101))).toBe(false);
    expect(d.bad).toBe(1);
  });
});
