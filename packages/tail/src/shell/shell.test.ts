import { describe, expect, it } from 'vitest';
import { evaluate, formatResult } from './shell.js';

describe('evaluate', () => {
  it('returns the value of an expression, with await', async () => {
    expect(await evaluate('await Promise.resolve(x + 1)', { x: 41 })).toBe(42);
  });

  it('runs statements and returns what they return', async () => {
    expect(await evaluate('const a = await f(); return a * 2', { f: async () => 4 })).toBe(8);
  });

  it('rejects with the error the code throws', async () => {
    await expect(
      evaluate('await f()', { f: async () => Promise.reject(new Error('no')) }),
    ).rejects.toThrow('no');
    await expect(evaluate('(((', {})).rejects.toThrow(SyntaxError);
  });
});

describe('formatResult', () => {
  it('prints plain data as JSON and other values as Node inspects them', () => {
    expect(formatResult('Hi, John!')).toBe('"Hi, John!"');
    expect(formatResult({ a: [1, null] })).toBe('{\n  "a": [\n    1,\n    null\n  ]\n}');
    expect(formatResult(undefined)).toBeUndefined();
    expect(formatResult(new Map([['k', 1]]))).toBe("Map(1) { 'k' => 1 }");
  });
});
