import { describe, expect, it } from 'vitest';
import { clean, renderRecord } from './render.js';

const time = new Date(2026, 0, 2, 3, 4, 5, 67).getTime();

describe('renderRecord', () => {
  it('prints time, service/instance, level, trace id, message and duration on one plain line', () => {
    const line = renderRecord(
      {
        time,
        level: 'info',
        msg: 'rpc Greeting.greet ok',
        service: 'Greeting',
        instance: '3fa2c1d0aa11bb22',
        traceId: '4b1c2d3e5f6a7b8c9d0e1f2a3b4c5d6e',
        kind: 'rpc',
        entrypoint: 'Greeting.greet',
        duration_ms: 1.234,
      },
      { color: false },
    );
    expect(line).toBe(
      '03:04:05.067  Greeting/3fa2c1d0  INFO   4b1c2d3e5f6a  rpc Greeting.greet ok  (1.23 ms)',
    );
  });

  it('shows other fields as key=value and marks missing parts with a dash', () => {
    const line = renderRecord(
      { time, level: 'warn', msg: 'slow', user: 'ann', n: 3 },
      { color: false },
    );
    expect(line).toBe('03:04:05.067  -/-  WARN   -             slow  user=ann n=3');
  });

  it('pads the service column to the width given', () => {
    const line = renderRecord(
      { time, level: 'info', msg: 'm', service: 'Web', instance: 'abcdefabcdef' },
      { color: false, whoWidth: 20 },
    );
    expect(line).toContain('Web/abcdefab          INFO');
  });

  it('colours the service, level and dim parts on a terminal, and nothing when piped', () => {
    const record = { time, level: 'error' as const, msg: 'failed', service: 'Listen' };
    expect(renderRecord(record, { color: true })).toContain('\x1b[');
    expect(renderRecord(record, { color: false })).not.toContain('\x1b');
  });

  it('escapes control characters so a record cannot drive the terminal', () => {
    const line = renderRecord(
      { time, level: 'info', msg: 'a\x1b[2Jb\nc', service: 'X\x07' },
      { color: false },
    );
    expect([...line].every((ch) => ch.charCodeAt(0) >= 0x20)).toBe(true);
    expect(line).toContain('a\\x1b[2Jb\\nc');
    expect(clean('tab\there')).toBe('tab here');
  });

  it('prints long durations in seconds', () => {
    expect(
      renderRecord({ time, level: 'info', msg: 'm', duration_ms: 2500 }, { color: false }),
    ).toContain('(2.50 s)');
  });
});
