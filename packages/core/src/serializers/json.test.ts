import { describe, expect, it, vi } from 'vitest';
import { DecodeError } from '../errors.js';
import { JsonSerializer, parseJsonSafe } from './json.js';

/** Copies key by key, as a naive deep merge does: what a polluting payload preys on. */
function naiveMerge(target: Record<string, unknown>, source: unknown): void {
  for (const [key, value] of Object.entries(source as Record<string, unknown>)) {
    if (typeof value === 'object' && value !== null) {
      target[key] ??= {};
      naiveMerge(target[key] as Record<string, unknown>, value);
    } else {
      target[key] = value;
    }
  }
}

describe('parseJsonSafe', () => {
  it('parses plain JSON as JSON.parse does', () => {
    const text = JSON.stringify({
      args: [],
      kwargs: { name: 'Flynne', n: 3, ok: true, list: [1, 'two', null], nested: { a: { b: 'c' } } },
      note: 'mentions __proto__ and constructor in values only',
    });
    expect(parseJsonSafe(text)).toEqual(JSON.parse(text));
    // Python's json.dumps escapes every non-ASCII character: such text takes the careful scan
    const escaped = '{"name": "Zo\\u00eb", "constructor": "a string", "x": "__proto__"}';
    expect(parseJsonSafe(escaped)).toEqual(JSON.parse(escaped));
  });

  it.each([
    ['a __proto__ key', '{"a": 1, "__proto__": {"polluted": true}}'],
    [
      'a __proto__ key spelled with escapes',
      '{"a": 1, "\\u005f_pr\\u006Fto__" : {"polluted": true}}',
    ],
    ['a nested __proto__ key', '{"a": {"b": [{"__proto__": {"polluted": true}}]}}'],
    ['a constructor.prototype', '{"a": 1, "constructor": {"prototype": {"polluted": true}}}'],
    [
      'a constructor.prototype spelled with escapes',
      '{"a": 1, "\\u0063onstructor": {"prot\\u006ftype": {"polluted": true}}}',
    ],
  ])('drops %s, so merging the result pollutes no prototype', (_, text) => {
    const value = parseJsonSafe(text);
    naiveMerge({}, value);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    expect(JSON.stringify(value)).not.toContain('polluted');
  });

  it('keeps a constructor key that holds no prototype', () => {
    expect(parseJsonSafe('{"constructor": {"name": "Point"}, "x": 1}')).toEqual({
      constructor: { name: 'Point' },
      x: 1,
    });
  });

  // The speed itself is measured by bench/micro/json-parse.mjs (no test asserts a speed); this
  // keeps the reason for it: a reviver only where a dangerous key may be.
  it('parses text without a dangerous key through JSON.parse alone, with no reviver (the reviver made every parse 4-5 times slower)', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const plain =
        '{"args": [], "kwargs": {"name": "Zo\\u00eb", "n": 3}, "note": "a constructor"}';
      parseJsonSafe(plain);
      expect(parse).toHaveBeenCalledTimes(1);
      expect(parse.mock.calls[0]).toEqual([plain]);
      parse.mockClear();
      // Only a text that spells a dangerous key pays for the reviver.
      parseJsonSafe('{"__proto__": {"x": 1}}');
      expect(parse.mock.calls[0]).toHaveLength(2);
    } finally {
      parse.mockRestore();
    }
  });

  it('throws a SyntaxError on bad JSON, on either path', () => {
    expect(() => parseJsonSafe('{"a": ')).toThrow(SyntaxError);
    expect(() => parseJsonSafe('{"__proto__": ')).toThrow(SyntaxError);
  });
});

describe('JsonSerializer', () => {
  it('decodes what it encodes and drops __proto__ keys from the wire', () => {
    const json = new JsonSerializer();
    expect(json.decode(json.encode({ kwargs: { name: 'x' } }))).toEqual({ kwargs: { name: 'x' } });
    const decoded = json.decode(Buffer.from('{"kwargs": {"__proto__": {"isAdmin": true}}}'));
    expect(decoded).toEqual({ kwargs: {} });
    expect(Object.keys((decoded as { kwargs: object }).kwargs)).toEqual([]);
  });

  it('refuses bad JSON and text over its size limit with a DecodeError', () => {
    const json = new JsonSerializer({ maxBytes: 10 });
    expect(() => json.decode(Buffer.from('{"a":'))).toThrow(DecodeError);
    expect(() => json.decode(Buffer.from('{"a": "0123456789"}'))).toThrow(/over the 10-byte limit/);
  });
});
