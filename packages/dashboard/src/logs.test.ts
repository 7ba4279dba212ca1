import { ClusterAuth, RecordLogger, type LogRecord } from '@svc/core';
import { describe, expect, it } from 'vitest';
import { LogHub, mergeRecords } from './logs.js';

const hub = (options: { maxRecords?: number; maxBytes?: number; maxRecordBytes?: number }) =>
  new LogHub({
    auth: new ClusterAuth({ cluster: 'test' }, { log: new RecordLogger([], {}) }),
    list: () => Promise.resolve([]),
    pollMs: 60_000,
    ...options,
  });

const record = (i: number, extra: Partial<LogRecord> = {}): LogRecord => ({
  time: i,
  level: 'info',
  msg: `record ${i}`,
  service: 'Greeting',
  instance: 'a',
  traceId: `trace${i % 3}`,
  ...extra,
});

describe('LogHub', () => {
  it('keeps at most maxRecords records, the newest', () => {
    const logs = hub({ maxRecords: 100 });
    for (let i = 0; i < 1000; i++) logs.add(record(i));
    expect(logs.size).toBe(100);
    expect(logs.received).toBe(1000);
    expect(logs.recordsOf('trace0').at(-1)!.time).toBe(999);
    expect(logs.recordsOf('trace0')[0]!.time).toBeGreaterThanOrEqual(900);
  });

  it('keeps at most maxBytes of records, however many', () => {
    const logs = hub({ maxRecords: 1_000_000, maxBytes: 64 * 1024 });
    const big = 'y'.repeat(4000);
    for (let i = 0; i < 1000; i++) logs.add(record(i, { msg: big }));
    expect(logs.bytes).toBeLessThanOrEqual(64 * 1024);
    expect(logs.size).toBeLessThan(20);
  });

  it('cuts a huge record down to its standard fields', () => {
    const logs = hub({ maxRecordBytes: 1024 });
    logs.add(record(1, { msg: 'z'.repeat(5000), payload: 'p'.repeat(100_000) }));
    expect(logs.bytes).toBeLessThan(3000);
    const [kept] = logs.recordsOf('trace1');
    expect(kept).toMatchObject({ time: 1, service: 'Greeting', traceId: 'trace1' });
    expect(kept!.msg).toMatch(/^z{2000}… \(record of \d+ bytes cut\)$/);
    expect(kept!['payload']).toBeUndefined();
    expect(logs.traces.recent()[0]).toMatchObject({ traceId: 'trace1', records: 1 });
  });
});

describe('mergeRecords', () => {
  it('keeps each record once, in time order', () => {
    const a = [record(3), record(1)];
    const b = [record(1), record(2)];
    expect(mergeRecords(a, b).map((r) => r.time)).toEqual([1, 2, 3]);
  });

  it("merges a 100,000-record trace's held records into its 200,000-record history, each once", () => {
    // A guard on size: a record looked for among the others would take minutes.
    const history = Array.from({ length: 200_000 }, (_, i) =>
      record(i, { instance: `i${i % 500}` }),
    );
    const held = history.filter((_, i) => i % 2 === 0).reverse();
    const merged = mergeRecords(held, history);
    expect(merged).toHaveLength(200_000);
    expect(merged.every((r, i) => r.time === i && r.instance === `i${i % 500}`)).toBe(true);
  });
});
