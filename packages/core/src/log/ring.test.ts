import { describe, expect, it } from 'vitest';
import { RingSink } from './index.js';

const record = (msg: string, extra: Record<string, unknown> = {}) => ({
  time: 0,
  level: 'info' as const,
  msg,
  ...extra,
});

describe('RingSink', () => {
  it('keeps a huge record cut to the record limit with a marker, not dropped and not whole', () => {
    const ring = new RingSink(100, 64 * 1024, 4096);
    ring.write(record('greeted', { name: 'x'.repeat(4 * 1024 * 1024) }));
    const [kept] = ring.recent();
    expect(kept?.msg).toBe('greeted');
    expect(kept?.['truncated']).toBe(true);
    expect(kept?.['name']).toMatch(/^x+…\[\d+ more characters\]$/);
    expect(JSON.stringify(kept).length).toBeLessThan(4096 + 200);
  });

  it('holds no more bytes than its limit, dropping the oldest records first', () => {
    const ring = new RingSink(100_000, 50_000, 2000);
    for (let i = 0; i < 1000; i++) ring.write(record(`r${i}`, { body: 'y'.repeat(1000) }));
    const kept = ring.recent();
    expect(ring.bytes).toBeLessThanOrEqual(50_000);
    expect(JSON.stringify(kept).length).toBeLessThan(55_000);
    expect(kept.at(-1)?.msg).toBe('r999');
    expect(kept.length).toBeGreaterThan(30);
    // Time order, the newest kept, none skipped in between.
    const first = Number(kept[0]!.msg.slice(1));
    expect(kept.map((r) => r.msg)).toEqual(kept.map((_, i) => `r${first + i}`));
  });

  it('still holds at most its capacity of records', () => {
    const ring = new RingSink(10);
    for (let i = 0; i < 25; i++) ring.write(record(`r${i}`));
    expect(ring.recent().map((r) => r.msg)).toEqual(
      Array.from({ length: 10 }, (_, i) => `r${15 + i}`),
    );
    expect(ring.recent({ limit: 3 }).map((r) => r.msg)).toEqual(['r22', 'r23', 'r24']);
  });
});
