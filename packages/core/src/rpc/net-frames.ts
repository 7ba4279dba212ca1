import { DecodeError } from '../errors.js';

/** Bytes of the big-endian length that precedes every frame body. */
export const FRAME_HEADER_BYTES = 4;

/**
 * The bytes of unfinished frames that every connection of one process holds
 * together: 60 connections each sending the start of a 16 MiB frame held
 * 1.25 GB before there was one.
 */
export class FrameBudget {
  readonly limit: number;
  used = 0;

  constructor(limit: number) {
    this.limit = limit;
  }
}

/**
 * Splits a byte stream into length-prefixed frames. The length is read
 * before the body is buffered, so an oversized frame is refused after four
 * bytes instead of after the sender has filled our memory.
 */
export class FrameDecoder {
  readonly #maxBytes: number;
  /**
   * Chunks of an incomplete frame, joined once it is whole: joining at every
   * chunk copied a 1 MB frame's bytes again with each 64 KiB chunk (8 MB
   * copied per megabyte; bench/scale's payload curve).
   */
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** bytes the first pending frame needs in all, header included (4 until its length is known) */
  #need = 0;
  readonly #budget: FrameBudget | undefined;
  /** bytes counted against the budget for this decoder */
  #held = 0;

  constructor(maxBytes: number, budget?: FrameBudget) {
    this.#maxBytes = maxBytes;
    this.#budget = budget;
  }

  /** Gives back what this decoder counted against the process budget (its stream ended). */
  release(): void {
    if (this.#budget) this.#budget.used -= this.#held;
    this.#held = 0;
    this.#chunks = [];
    this.#buffered = 0;
  }

  /**
   * Counts what is buffered now against the process budget; throws when
   * the budget is spent (the stream is closed and its bytes given back).
   */
  #account(): void {
    const budget = this.#budget;
    if (!budget) return;
    // What was received, not what a header announced: a header alone costs nothing to send.
    const held = this.#buffered;
    budget.used += held - this.#held;
    this.#held = held;
    if (held > 0 && budget.used > budget.limit) {
      this.release();
      throw new DecodeError(`unfinished frames are over the process's ${budget.limit}-byte budget`);
    }
  }

  /**
   * Feeds one chunk; calls `onFrame` with each complete frame body (a view
   * into the chunk, valid during the call only). Throws a DecodeError on an
   * empty or oversized frame; the stream is unusable after that.
   */
  push(chunk: Buffer, onFrame: (body: Buffer) => void): void {
    this.pushRange(chunk, (buf, start, end) => onFrame(buf.subarray(start, end)));
  }

  /**
   * As {@link push}, with each frame body given as `buf[start, end)` (no
   * view made of it): for decoders that read a range in place.
   */
  pushRange(chunk: Buffer, onFrame: (buf: Buffer, start: number, end: number) => void): void {
    this.#push(chunk, chunk.length, false, onFrame);
  }

  /**
   * As {@link pushRange}, for the first `length` bytes of a buffer that is
   * overwritten after the call (a socket's `onread` buffer): what is kept
   * of them for a frame not yet whole is copied, and each frame body is
   * valid during its `onFrame` call only (whatever outlives it must be
   * copied out of `buf`).
   */
  pushReused(
    buf: Buffer,
    length: number,
    onFrame: (buf: Buffer, start: number, end: number) => void,
  ): void {
    this.#push(buf, length, true, onFrame);
  }

  #push(
    chunk: Buffer,
    length: number,
    reused: boolean,
    onFrame: (buf: Buffer, start: number, end: number) => void,
  ): void {
    let buf = chunk;
    let end = length;
    if (this.#chunks.length > 0) {
      const bytes = length === chunk.length ? chunk : chunk.subarray(0, length);
      this.#buffered += length;
      if (this.#buffered < this.#need) {
        // Kept until the frame is whole: a reused buffer's bytes are gone by then.
        this.#chunks.push(reused ? Buffer.from(bytes) : bytes);
        this.#account();
        return;
      }
      this.#chunks.push(bytes);
      buf = Buffer.concat(this.#chunks, this.#buffered);
      end = buf.length;
      this.#chunks = [];
      this.#buffered = 0;
    }
    try {
      this.#split(buf, end, onFrame);
    } finally {
      this.#account();
    }
  }

  #split(
    buf: Buffer,
    end: number,
    onFrame: (buf: Buffer, start: number, end: number) => void,
  ): void {
    let offset = 0;
    while (end - offset >= FRAME_HEADER_BYTES) {
      const size = buf.readUInt32BE(offset);
      if (size === 0) throw new DecodeError('empty frame');
      if (size > this.#maxBytes) {
        throw new DecodeError(`frame of ${size} bytes is over the ${this.#maxBytes}-byte limit`);
      }
      const start = offset + FRAME_HEADER_BYTES;
      if (end - start < size) break;
      offset = start + size;
      onFrame(buf, start, offset);
    }
    // A frame that throws leaves the rest of the stream unread: the caller closes it.
    if (offset < end) {
      // Copy the tail: keeping a view would pin the whole chunk until the frame completes.
      const tail = Buffer.from(buf.subarray(offset, end));
      this.#chunks = [tail];
      this.#buffered = tail.length;
      this.#need =
        tail.length >= FRAME_HEADER_BYTES
          ? FRAME_HEADER_BYTES + tail.readUInt32BE(0)
          : FRAME_HEADER_BYTES;
    }
  }
}

/**
 * Coalesces the frames queued together into a few buffers, so a burst of
 * calls or replies costs one socket write per slice instead of one per
 * frame.
 *
 * When the flush runs depends on what is in flight. By default a frame is
 * written at the end of the tick: at one call in flight, waiting any longer
 * only adds latency. A writer that has written already in this turn of the
 * event loop, or whose caller knows of other work in flight on the
 * connection (`busy`: calls awaiting replies, requests still running),
 * waits for `setImmediate`, after every I/O callback of the turn: an HTTP
 * server reads its requests one socket at a time, and each request's call
 * would otherwise be a write (and a wake-up of the peer) of its own. In
 * bench/, HTTP→RPC went from 0.50x to about 0.85x of the raw baseline with
 * the peer's CPU per call a third lower. A server `hold`s its writer while
 * it decodes a chunk of requests and writes the replies of those answered
 * at once when it is done with the chunk.
 *
 * (The writer used to call itself busy when it had flushed less than 50 µs
 * before. At one call in flight a round trip over a unix socket takes
 * about that long, so two calls in three waited for `setImmediate` on both
 * sides, and the faster a round trip became, the more of them waited. A
 * turn is counted by one `setImmediate` a turn for all writers, armed by
 * the first flush.)
 *
 * A burst is written in slices of this many frames (or bytes) rather than
 * at the end of the turn: the peer starts on the first slice while this
 * side still works on the rest. One write per turn made two busy processes
 * take turns (each idle while the other worked through a whole burst);
 * slices of 16 put both cores to work (RPC at 100 in flight through the
 * runtime: 41k to 74k calls/s in bench/, the bare transport 141k to 190k).
 */
const SLICE_FRAMES = 16;
const SLICE_BYTES = 64 * 1024;

/** The turns of the event loop in which a writer flushed, counted by their check phases. */
let turn = 0;
let turnCounted = false;
const nextTurn = (): void => {
  turn++;
  turnCounted = false;
};
/** The current turn, making sure its end is counted. */
function thisTurn(): number {
  if (!turnCounted) {
    turnCounted = true;
    setImmediate(nextTurn);
  }
  return turn;
}

export class FrameWriter {
  readonly #write: (bytes: Buffer) => void;
  #bodies: Buffer[] = [];
  #size = 0;
  #scheduled = false;
  #held = false;
  /** the turn of this writer's last flush on its own schedule, -1 for none */
  #flushedTurn = -1;
  readonly #flush = () => this.#flushNow();

  constructor(write: (bytes: Buffer) => void) {
    this.#write = write;
  }

  /**
   * Queues one frame body; it is written at the end of the tick, once this
   * turn's I/O callbacks have run when `busy` or when this writer wrote in
   * this turn already, at {@link release} while the writer is held, or at
   * once when it completes a slice. `busy` says the caller knows of other
   * work in flight on this connection (calls awaiting their replies,
   * requests still running).
   */
  push(body: Buffer, busy = false): void {
    this.#bodies.push(body);
    this.#size += FRAME_HEADER_BYTES + body.length;
    if (this.#bodies.length >= SLICE_FRAMES || this.#size >= SLICE_BYTES) {
      this.#flushNow();
      return;
    }
    if (this.#held || this.#scheduled) return;
    this.#scheduled = true;
    if (busy || this.#flushedTurn === turn) setImmediate(this.#flush);
    else process.nextTick(this.#flush);
  }

  /** Keeps what is pushed from now on until {@link release} (a chunk of requests is being read). */
  hold(): void {
    this.#held = true;
  }

  /** Writes what was pushed while held, now. */
  release(): void {
    this.#held = false;
    this.flush();
  }

  /** {@link flush}, noting the turn it wrote in. */
  #flushNow(): void {
    if (this.#bodies.length > 0) this.#flushedTurn = thisTurn();
    this.flush();
  }

  flush(): void {
    this.#scheduled = false;
    const bodies = this.#bodies;
    if (bodies.length === 0) return;
    const out = Buffer.allocUnsafe(this.#size);
    let offset = 0;
    // Byte by byte and TypedArray#set: Buffer's writeUInt32BE and copy check
    // their arguments in JavaScript first, on every frame of every flush.
    for (const body of bodies) {
      const size = body.length;
      out[offset] = size >>> 24;
      out[offset + 1] = (size >>> 16) & 0xff;
      out[offset + 2] = (size >>> 8) & 0xff;
      out[offset + 3] = size & 0xff;
      out.set(body, offset + FRAME_HEADER_BYTES);
      offset += FRAME_HEADER_BYTES + size;
    }
    this.#bodies = [];
    this.#size = 0;
    this.#write(out);
  }

  /** Drops what is queued (the connection is gone). */
  clear(): void {
    this.#bodies = [];
    this.#size = 0;
  }
}
