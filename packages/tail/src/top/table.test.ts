import { describe, expect, it } from 'vitest';
import type { InstanceRow } from './collect.js';
import {
  INSTANCE_COLUMNS,
  formatBytes,
  formatUptime,
  renderOnce,
  renderTable,
  sortRows,
} from './table.js';

const row = (over: Partial<InstanceRow>): InstanceRow => ({
  service: 'Greeting',
  instance: '0123456789abcdef',
  pid: 100,
  uptime: 65,
  cpu: 1.25,
  rss: 50 * 1024 * 1024,
  loopLag: 0.4,
  callsPerSec: 12.5,
  errorsPerSec: 0,
  p50: 1.5,
  p99: 9.25,
  ...over,
});

describe('top tables', () => {
  it('renders a header and one aligned line per instance', () => {
    const lines = renderTable(INSTANCE_COLUMNS, [row({})], { column: 0, descending: false });
    expect(lines[0]).toBe(
      'SERVICE▲           INSTANCE        PID   UPTIME    CPU%      RSS   LAG ms   CALLS/s   ERR/s   P50 ms   P99 ms',
    );
    expect(lines[1]).toBe(
      'Greeting           01234567        100    1m05s     1.3    50.0M      0.4      12.5     0.0      1.5      9.3',
    );
  });

  it('shows a dash for a rate that needs a second reading', () => {
    const [, line] = renderTable(INSTANCE_COLUMNS, [row({ callsPerSec: undefined })]);
    expect(line).toMatch(/ {8}- +0\.0/);
  });

  it('sorts by any column, descending or not, missing values last', () => {
    const rows = [
      row({ service: 'A', cpu: 5, callsPerSec: undefined }),
      row({ service: 'B', cpu: 50, callsPerSec: 3 }),
      row({ service: 'C', cpu: 0.5, callsPerSec: 9 }),
    ];
    const cpu = INSTANCE_COLUMNS.findIndex((c) => c.title === 'CPU%');
    const calls = INSTANCE_COLUMNS.findIndex((c) => c.title === 'CALLS/s');
    const names = (rs: InstanceRow[]) => rs.map((r) => r.service);
    expect(names(sortRows(rows, INSTANCE_COLUMNS, { column: cpu, descending: true }))).toEqual([
      'B',
      'A',
      'C',
    ]);
    expect(names(sortRows(rows, INSTANCE_COLUMNS, { column: cpu, descending: false }))).toEqual([
      'C',
      'A',
      'B',
    ]);
    expect(names(sortRows(rows, INSTANCE_COLUMNS, { column: calls, descending: true }))).toEqual([
      'C',
      'B',
      'A',
    ]);
    expect(names(sortRows(rows, INSTANCE_COLUMNS, { column: calls, descending: false }))).toEqual([
      'B',
      'C',
      'A',
    ]);
  });

  it('marks the sorted column in the header', () => {
    const [header] = renderTable(INSTANCE_COLUMNS, [], { column: 4, descending: true });
    expect(header).toContain('▼CPU%');
  });

  it('formats uptimes and sizes for people', () => {
    expect([5, 65, 3700, 90000].map(formatUptime)).toEqual(['5s', '1m05s', '1h01m', '1d01h']);
    expect([2048, 3 * 1024 * 1024, 2 * 1024 ** 3].map(formatBytes)).toEqual([
      '2K',
      '3.0M',
      '2.00G',
    ]);
  });

  it('prints both views and the instances that did not answer for --once', () => {
    const text = renderOnce({
      time: 0,
      instances: [row({})],
      entrypoints: [
        {
          name: 'Greeting.greet',
          kind: 'rpc',
          instances: 1,
          callsPerSec: 2,
          errorsPerSec: 0,
          calls: 10,
          errors: 1,
          p50: 1,
          p99: 2,
        },
      ],
      unreachable: [{ service: 'Web', instance: 'ffffffff00000000', error: 'timed out' }],
    });
    expect(text).toContain('ENTRYPOINT▲');
    expect(text).toMatch(/Greeting\.greet +rpc +1 +2\.0 +0\.0 +10 +1 +1\.0 +2\.0/);
    expect(text).toContain('Web/ffffffff did not answer: timed out');
  });
});
