import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineWriter } from './writer.js';

/** A stream that records each chunk it was given. */
function recorder(): { stream: Writable; chunks: string[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return { stream, chunks };
}

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('LineWriter', () => {
  it('writes many lines in one write, in order, once flushMs has passed', async () => {
    const { stream, chunks } = recorder();
    const w = new LineWriter(stream, { flushMs: 5 });
    for (let i = 0; i < 100; i++) w.write(`line ${i}\n`);
    expect(chunks).toEqual([]);
    await tick(30);
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.split('\n').slice(0, -1)).toEqual(
      Array.from({ length: 100 }, (_, i) => `line ${i}`),
    );
  });

  it('writes an urgent line at once, with every line before it', () => {
    const { stream, chunks } = recorder();
    const w = new LineWriter(stream, { flushMs: 1000 });
    w.write('a\n');
    w.write('b\n', true);
    expect(chunks).toEqual(['a\nb\n']);
  });

  it('writes as soon as highWater characters are buffered', () => {
    const { stream, chunks } = recorder();
    const w = new LineWriter(stream, { flushMs: 1000, highWater: 10 });
    w.write('12345\n');
    expect(chunks).toEqual([]);
    w.write('67890\n');
    expect(chunks).toEqual(['12345\n67890\n']);
  });

  it('drops lines past maxBuffered while the stream is full, and says how many in the next write', async () => {
    // A stream that never finishes a write: full after the first chunk.
    const stuck = new Writable({ highWaterMark: 1, write() {} });
    const w = new LineWriter(stuck, { flushMs: 1, maxBuffered: 20 });
    w.write('first\n', true);
    for (let i = 0; i < 10; i++) w.write('0123456789\n');
    expect(w.dropped).toBe(9);
    const { stream, chunks } = recorder();
    const w2 = new LineWriter(stream, { flushMs: 1, maxBuffered: 20 });
    for (let i = 0; i < 3; i++) w2.write('0123456789\n');
    w2.flush();
    expect(w2.dropped).toBe(2);
    w2.write('next\n', true);
    expect(chunks.join('')).toMatch(
      /^0123456789\n\{.*"2 log lines dropped: the output was not read fast enough"\}\nnext\n$/,
    );
  });

  it('drops every line, without throwing, once its stream has failed', async () => {
    const stream = new PassThrough();
    const w = new LineWriter(stream, { flushMs: 1 });
    stream.destroy(new Error('EPIPE'));
    await tick(5);
    expect(w.broken).toBe(true);
    expect(() => {
      for (let i = 0; i < 10; i++) w.write('x\n', true);
    }).not.toThrow();
    expect(w.dropped).toBe(10);
  });
});
