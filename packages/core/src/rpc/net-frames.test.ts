import { describe, expect, it } from 'vitest';
import { DecodeError } from '../errors.js';
import { FrameBudget, FrameDecoder, FrameWriter } from './net-frames.js';

const tick = () => new Promise<void>((resolve) => process.nextTick(resolve));
/** The rest of this turn of the event loop: its I/O callbacks, then the check phase. */
const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

function decodeAll(writes: Buffer[]): string[] {
  const decoder = new FrameDecoder(1024);
  const bodies: string[] = [];
  for (const w of writes) decoder.push(w, (body) => bodies.push(body.toString()));
  return bodies;
}

describe('FrameWriter', () => {
  it('writes the frames of one tick together at its end, and later ones of the same turn at its end', async () => {
    const writes: Buffer[] = [];
    const writer = new FrameWriter((bytes) => writes.push(bytes));
    for (const s of ['a', 'bb']) writer.push(Buffer.from(s));
    expect(writes).toHaveLength(0);
    await tick();
    expect(decodeAll(writes)).toEqual(['a', 'bb']);
    // In the same turn (another request of an HTTP server's, read from its own socket), it waits
    // for the turn's I/O callbacks, and what they push joins the same write.
    writer.push(Buffer.from('ccc'));
    await tick();
    expect(writes).toHaveLength(1);
    writer.push(Buffer.from('dddd'));
    await turn();
    expect(writes).toHaveLength(2);
    expect(decodeAll(writes)).toEqual(['a', 'bb', 'ccc', 'dddd']);
    // In a later turn, however soon (one call in flight): at the end of the tick again.
    await turn();
    writer.push(Buffer.from('e'));
    await tick();
    expect(decodeAll(writes)).toEqual(['a', 'bb', 'ccc', 'dddd', 'e']);
  });

  it('waits for the end of the turn when the caller has other calls in flight', async () => {
    const writes: Buffer[] = [];
    const writer = new FrameWriter((bytes) => writes.push(bytes));
    writer.push(Buffer.from('a'), true);
    await tick();
    expect(writes).toHaveLength(0);
    // another request's call, from a later I/O callback of the same turn, joins the same write
    writer.push(Buffer.from('b'), true);
    await turn();
    expect(writes).toHaveLength(1);
    expect(decodeAll(writes)).toEqual(['a', 'b']);
  });

  it('keeps what is pushed while held, and writes it together on release', async () => {
    const writes: Buffer[] = [];
    const writer = new FrameWriter((bytes) => writes.push(bytes));
    writer.hold();
    writer.push(Buffer.from('a'));
    writer.push(Buffer.from('b'), true);
    await tick();
    expect(writes).toHaveLength(0);
    writer.release();
    expect(decodeAll(writes)).toEqual(['a', 'b']);
    await turn();
    expect(writes).toHaveLength(1);
    // A full slice still goes at once while held.
    writer.hold();
    for (let i = 0; i < 16; i++) writer.push(Buffer.from(`s${i}`));
    expect(writes).toHaveLength(2);
    writer.release();
    expect(writes).toHaveLength(2);
  });

  it('writes a long burst in slices as it goes, so the peer can start on the first', async () => {
    const writes: Buffer[] = [];
    const writer = new FrameWriter((bytes) => writes.push(bytes));
    const sent = Array.from({ length: 40 }, (_, i) => `frame-${i}`);
    for (const s of sent) writer.push(Buffer.from(s));
    expect(writes.length).toBeGreaterThan(1);
    await turn();
    expect(decodeAll(writes)).toEqual(sent);
    // the last, partial slice went at the end of the turn
    expect(writes.length).toBe(Math.ceil(sent.length / 16));
  });

  it('cuts a slice early when its bytes grow large', () => {
    const writes: Buffer[] = [];
    const writer = new FrameWriter((bytes) => writes.push(bytes));
    writer.push(Buffer.alloc(70 * 1024, 1));
    expect(writes).toHaveLength(1);
    expect(writes[0]!.length).toBe(4 + 70 * 1024);
  });

  it('drops queued frames on clear', async () => {
    const writes: Buffer[] = [];
    const writer = new FrameWriter((bytes) => writes.push(bytes));
    writer.push(Buffer.from('lost'));
    writer.clear();
    await turn();
    expect(writes).toHaveLength(0);
  });
});

describe('FrameDecoder', () => {
  it('joins a large frame cut into many small chunks, with the next frame in its last chunk', () => {
    const decoder = new FrameDecoder(1 << 20);
    const bodies: Buffer[] = [];
    const big = Buffer.alloc(100_000, 7);
    big.write('start');
    const header = (n: number) =>
      Buffer.from([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
    const stream = Buffer.concat([header(big.length), big, header(2), Buffer.from('ok')]);
    for (let i = 0; i < stream.length; i += 999) {
      decoder.push(stream.subarray(i, i + 999), (b) => bodies.push(Buffer.from(b)));
    }
    expect(bodies.map((b) => b.length)).toEqual([100_000, 2]);
    expect(bodies[0]!.equals(big)).toBe(true);
    expect(bodies[1]!.toString()).toBe('ok');
  });

  it('joins a frame split across chunks', () => {
    const decoder = new FrameDecoder(1024);
    const bodies: string[] = [];
    const frame = Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('hello')]);
    decoder.push(frame.subarray(0, 2), (b) => bodies.push(b.toString()));
    decoder.push(frame.subarray(2, 7), (b) => bodies.push(b.toString()));
    expect(bodies).toEqual([]);
    decoder.push(frame.subarray(7), (b) => bodies.push(b.toString()));
    expect(bodies).toEqual(['hello']);
  });

  it('refuses an oversized frame from its length alone, and an empty frame', () => {
    const decoder = new FrameDecoder(8);
    expect(() => decoder.push(Buffer.from([0, 0, 0, 9]), () => {})).toThrow(DecodeError);
    expect(() => new FrameDecoder(8).push(Buffer.from([0, 0, 0, 0]), () => {})).toThrow(
      /empty frame/,
    );
  });

  it('joins a 15 MiB frame sent in 1 KiB pieces in linear time (no copy of the pending bytes per piece)', () => {
    const size = 15 * 1024 * 1024;
    const decoder = new FrameDecoder(16 * 1024 * 1024);
    const frame = Buffer.alloc(4 + size, 1);
    frame.writeUInt32BE(size, 0);
    let got = 0;
    const started = performance.now();
    for (let i = 0; i < frame.length; i += 1024) {
      decoder.push(frame.subarray(i, i + 1024), (b) => (got = b.length));
    }
    expect(got).toBe(size);
    // Joining at every piece copied 15 MiB × 15,000 / 2: minutes. Once, it is milliseconds.
    expect(performance.now() - started).toBeLessThan(1500);
  });

  it('counts unfinished frames against a budget shared by its decoders, and gives them back', () => {
    const budget = new FrameBudget(2500);
    const a = new FrameDecoder(4096, budget);
    const b = new FrameDecoder(4096, budget);
    const start = (n: number) =>
      Buffer.concat([Buffer.from([0, 0, n >>> 8, n & 255]), Buffer.alloc(1000)]);
    a.push(start(3000), () => {});
    b.push(start(3000), () => {});
    expect(budget.used).toBe(2008);
    const c = new FrameDecoder(4096, budget);
    expect(() => c.push(start(3000), () => {})).toThrow(
      "unfinished frames are over the process's 2500-byte budget",
    );
    expect(budget.used).toBe(2008);
    a.release();
    expect(budget.used).toBe(1004);
    // A frame completed gives its bytes back too.
    b.push(Buffer.alloc(2000), () => {});
    expect(budget.used).toBe(0);
  });
});
