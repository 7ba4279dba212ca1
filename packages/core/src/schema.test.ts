import { describe, expect, it } from 'vitest';
import { t, toObjectSchema } from './schema.js';

describe('parameter schemas', () => {
  const schema = toObjectSchema({
    name: t.string('who to greet'),
    times: t.optional(t.integer()),
    tags: t.optional(t.array(t.string())),
    mode: t.optional(t.literal('loud', 'quiet')),
    nested: t.optional(t.object({ x: t.number() })),
  });

  it('accepts valid parameters and describes their types', () => {
    expect(
      schema.check({ name: 'a', times: 2, tags: ['x'], mode: 'loud', nested: { x: 1.5 } }, ''),
    ).toEqual([]);
    expect(schema.type).toBe(
      '{ name: string, times?: integer, tags?: string[], mode?: "loud" | "quiet", nested?: { x: number } }',
    );
  });

  it('names every problem with its path', () => {
    expect(
      schema.check({ times: 1.5, tags: ['x', 2], mode: 'meh', nested: {}, other: 1 }, ''),
    ).toEqual([
      'name is required',
      'times must be an integer, got number 1.5',
      'tags[1] must be a string, got number 2',
      'mode must be a "loud" | "quiet", got the string "meh"',
      'nested.x is required',
      'other is not a known parameter',
    ]);
    expect(schema.check(null, '')).toEqual(['parameters must be an object, got null']);
  });
});
