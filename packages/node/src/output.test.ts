import { describe, expect, it } from 'vitest';
import { createOutput, LineSplitter } from './output.js';

describe('LineSplitter', () => {
  it('emits whole lines only, across chunk and UTF-8 boundaries', () => {
    const lines: string[] = [];
    const s = new LineSplitter((l) => lines.push(l));
    const bytes = Buffer.from('héllo\r\nwor');
    s.push(bytes.subarray(0, 2));
    s.push(bytes.subarray(2));
    expect(lines).toEqual(['héllo']);
    s.push('ld\nlast');
    expect(lines).toEqual(['héllo', 'world']);
    s.end();
    expect(lines).toEqual(['héllo', 'world', 'last']);
  });
});

describe('createOutput', () => {
  it('prefixes lines with name and index, aligned, plain when not coloured', () => {
    const out: string[] = [];
    const err: string[] = [];
    const o = createOutput({
      names: ['Web', 'Greeting'],
      color: false,
      stdout: (t) => out.push(t),
      stderr: (t) => err.push(t),
    });
    o.line('Web', 1, 'stdout', 'hello');
    o.line('Greeting', 0, 'stderr', 'oops');
    o.note('started');
    expect(out).toEqual(['Web.1       | hello\n']);
    expect(err).toEqual(['Greeting.0  | oops\n', '[svc node] started\n']);
  });

  it('colours the prefix per instance on a terminal', () => {
    const out: string[] = [];
    const o = createOutput({
      names: ['A', 'B'],
      color: true,
      stdout: (t) => out.push(t),
      stderr: () => {},
    });
    o.line('A', 0, 'stdout', 'x');
    o.line('B', 0, 'stdout', 'y');
    expect(out[0]).toBe('\x1b[36mA.0  | \x1b[0mx\n');
    expect(out[1]).toBe('\x1b[33mB.0  | \x1b[0my\n');
  });
});
