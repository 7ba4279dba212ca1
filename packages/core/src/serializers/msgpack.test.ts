import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { MsgpackSerializer } from './msgpack.js';

describe('MsgpackSerializer.decodeRange', () => {
  const serializer = new MsgpackSerializer({ maxBytes: 64 });
  const a = serializer.encode({ name: 'a' });
  const b = serializer.encode([1, 'two', { three: 3 }]);
  const chunk = Buffer.concat([Buffer.from([9, 9]), a, b, Buffer.from([9])]);

  it('decodes each message of a chunk in place, as decode does a copy of it', () => {
    const bStart = 2 + a.length;
    expect(serializer.decodeRange(chunk, 2, bStart)).toEqual({ name: 'a' });
    expect(serializer.decodeRange(chunk, bStart, bStart + b.length)).toEqual([
      1,
      'two',
      { three: 3 },
    ]);
    // the same chunk again: what msgpackr keeps on it changes nothing
    expect(serializer.decodeRange(chunk, 2, bStart)).toEqual(serializer.decode(a));
  });

  it('refuses a range that is empty, over the limit, or not one whole message', () => {
    expect(() => serializer.decodeRange(chunk, 2, 2)).toThrow(DecodeError);
    const big = Buffer.concat([Buffer.alloc(10), serializer.encode('x'.repeat(100))]);
    expect(() => new MsgpackSerializer({ maxBytes: 64 }).decodeRange(big, 10, big.length)).toThrow(
      /over the 64-byte limit/,
    );
    // a message cut short, and two messages where one was expected
    expect(() => serializer.decodeRange(chunk, 2, 2 + a.length - 1)).toThrow(DecodeError);
    expect(() => serializer.decodeRange(chunk, 2, 2 + a.length + b.length)).toThrow(DecodeError);
  });
});
