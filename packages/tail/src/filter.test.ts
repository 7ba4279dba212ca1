import { UsageError, type LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { makeFilter } from './filter.js';

const rec = (over: Partial<LogRecord>): LogRecord => ({
  time: 1,
  level: 'info',
  msg: 'hello',
  service: 'Greeting',
  traceId: 'abcdef0123456789abcdef0123456789',
  ...over,
});

describe('makeFilter', () => {
  it('keeps records at or above --level', () => {
    const f = makeFilter({ level: 'warn' });
    expect(
      ['debug', 'info', 'warn', 'error'].map((level) => f(rec({ level: level as 'info' }))),
    ).toEqual([false, false, true, true]);
  });

  it('matches --grep in the message or any field, ignoring case', () => {
    const f = makeFilter({ grep: 'JOHN' });
    expect(f(rec({ msg: 'Saying hi to John' }))).toBe(true);
    expect(f(rec({ msg: 'x', user: { name: 'john' } }))).toBe(true);
    expect(f(rec({ msg: 'Saying hi to Ann' }))).toBe(false);
  });

  it('matches --trace by whole id or by the prefix tail prints', () => {
    expect(makeFilter({ trace: 'abcdef0123456789abcdef0123456789' })(rec({}))).toBe(true);
    expect(makeFilter({ trace: 'abcdef012345' })(rec({}))).toBe(true);
    expect(makeFilter({ trace: 'abcdef999999' })(rec({}))).toBe(false);
    expect(makeFilter({ trace: 'abcdef' })(rec({ traceId: undefined }))).toBe(false);
  });

  it('combines filters', () => {
    const f = makeFilter({ level: 'warn', grep: 'boom' });
    expect(f(rec({ level: 'error', msg: 'boom' }))).toBe(true);
    expect(f(rec({ level: 'info', msg: 'boom' }))).toBe(false);
    expect(f(rec({ level: 'error', msg: 'ok' }))).toBe(false);
  });

  it('rejects a bad level or trace id with a usage error', () => {
    expect(() => makeFilter({ level: 'loud' as 'info' })).toThrow(UsageError);
    expect(() => makeFilter({ level: 'loud' as 'info' })).toThrow(/--level must be one of/);
    expect(() => makeFilter({ trace: 'abc' })).toThrow(/--trace takes a trace id/);
    expect(() => makeFilter({ trace: 'a b c d e f' })).toThrow(UsageError);
  });
});
