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

  it('keeps every record whole and in order while it is written round and round', () => {
    // A small ring (4 KiB) of records of many sizes, some not ASCII: it grows, then wraps many times.
    const ring = new RingSink(50, 4096, 1000);
    const sizes = [10, 300, 37, 800, 5, 120, 999];
    for (let i = 0; i < 2000; i++) {
      const body = (i % 3 === 0 ? 'é€' : 'y').repeat(sizes[i % sizes.length]! % 300);
      ring.write(record(`r${i}`, { body, traceId: `t${i % 7}` }));
      const kept = ring.recent();
      expect(ring.bytes).toBeLessThanOrEqual(4096);
      expect(kept.at(-1)?.msg).toBe(`r${i}`);
      expect(kept.at(-1)?.['body']).toBe(body);
      const first = Number(kept[0]!.msg.slice(1));
      expect(kept.map((r) => r.msg)).toEqual(kept.map((_, k) => `r${first + k}`));
      expect(kept.length).toBeLessThanOrEqual(50);
    }
    const trace = ring.recent({ traceId: 't3' });
    expect(trace.length).toBeGreaterThan(0);
    expect(trace.every((r) => r.traceId === 't3')).toBe(true);
  });

  it("gives a successful call's line to the ring without making its record", () => {
    const ring = new RingSink();
    let made = 0;
    const line = JSON.stringify(
      record('rpc Greeter.hello ok', { traceId: 'a1', duration_ms: 0.2 }),
    );
    ring.callLine(line, () => {
      made++;
      return record('unused');
    });
    expect(made).toBe(0);
    expect(ring.recent({ traceId: 'a1' })).toEqual([JSON.parse(line)]);
  });

  it('keeps a record of characters that take three bytes each within its byte limit', () => {
    const ring = new RingSink(10, 1024, 1024);
    ring.write(record('wide', { body: '€'.repeat(1000) }));
    const [kept] = ring.recent();
    expect(kept?.['truncated']).toBe(true);
    expect(ring.bytes).toBeLessThanOrEqual(1024);
  });

  it('grows only to about twice what its records take when the count is what bounds it', () => {
    const ring = new RingSink(100, 4 * 1024 * 1024, 4096);
    for (let i = 0; i < 10_000; i++) ring.write(record(`r${i}`, { body: 'z'.repeat(200) }));
    // 100 records of about 250 bytes: 25 KB held, in a buffer that never grew past its first 64 KiB.
    expect(ring.bytes).toBeLessThan(30_000);
    expect(ring.recent().map((r) => r.msg)).toEqual(
      Array.from({ length: 100 }, (_, i) => `r${9900 + i}`),
    );
    expect(ring.bufferBytes).toBeLessThanOrEqual(64 * 1024);
  });
});
