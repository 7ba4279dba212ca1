import { describe, expect, it } from 'vitest';
import { IdTable } from './id-table.js';

const sorted = (t: IdTable<string>) => [...t.entries()].sort((a, b) => a[0] - b[0]);

describe('IdTable', () => {
  it('holds, finds and forgets values by id, 0 included', () => {
    const t = new IdTable<string>(4);
    expect(t.get(0)).toBeUndefined();
    t.set(0, 'zero').set(1, 'one');
    expect([t.get(0), t.get(1), t.size]).toEqual(['zero', 'one', 2]);
    t.set(1, 'uno');
    expect([t.get(1), t.size]).toEqual(['uno', 2]);
    expect(t.delete(1)).toBe(true);
    expect(t.delete(1)).toBe(false);
    expect([t.get(1), t.size]).toEqual([undefined, 1]);
  });

  it('moves a straggler aside when a newer id lands on its slot, and still finds both', () => {
    const t = new IdTable<string>(8);
    t.set(1, 'slow');
    // 1 and 9 share a slot of 8; with one call held the table does not grow for it.
    t.set(9, 'fast');
    expect([t.get(1), t.get(9), t.size]).toEqual(['slow', 'fast', 2]);
    expect(t.delete(1)).toBe(true);
    expect([t.get(1), t.get(9), t.size]).toEqual([undefined, 'fast', 1]);
    // A spilled id set again is held once.
    t.set(17, 'later');
    t.set(9, 'again');
    expect(sorted(t)).toEqual([
      [9, 'again'],
      [17, 'later'],
    ]);
  });

  it('grows when more than half full instead of spilling', () => {
    const t = new IdTable<string>(4);
    for (let id = 0; id < 100; id++) t.set(id, `v${id}`);
    expect(t.size).toBe(100);
    for (let id = 0; id < 100; id++) expect(t.get(id)).toBe(`v${id}`);
    for (let id = 0; id < 100; id += 2) t.delete(id);
    expect(sorted(t).map(([id]) => id)).toEqual(Array.from({ length: 50 }, (_, i) => 2 * i + 1));
  });

  it('keeps ids that are not 31-bit integers aside (a peer sends what it likes)', () => {
    const t = new IdTable<string>(4);
    const odd = [-1, 1.5, 2 ** 31, 2 ** 53, Number.NaN, Infinity];
    odd.forEach((id, i) => t.set(id, `odd${i}`));
    t.set(1, 'one');
    expect(t.size).toBe(odd.length + 1);
    odd.forEach((id, i) => expect(t.get(id)).toBe(`odd${i}`));
    expect(t.get('1' as unknown as number)).toBeUndefined();
    expect(t.get(1)).toBe('one');
    for (const id of odd) expect(t.delete(id)).toBe(true);
    expect(t.size).toBe(1);
  });

  it('iterates a snapshot, so entries may be deleted while iterating; clear empties it', () => {
    const t = new IdTable<string>(4);
    for (const id of [1, 2, 3, 5, 9]) t.set(id, `v${id}`);
    for (const [id] of t) t.delete(id);
    expect(t.size).toBe(0);
    t.set(4, 'four').set(12, 'twelve');
    expect([...t.values()].sort()).toEqual(['four', 'twelve']);
    t.clear();
    expect([t.size, t.get(4), t.get(12), [...t]]).toEqual([0, undefined, undefined, []]);
  });
});
