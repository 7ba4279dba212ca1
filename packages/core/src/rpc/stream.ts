// The flow control of streamed items, the same on every direct transport:
// the reader grants credit for a window of items, the server pulls the next
// item from the producer only while it holds credit, and the reader grants
// more as it consumes. A slow reader therefore slows the producer, and
// neither side holds more than a window of items. The transports only move
// the frames: request, items, credit, cancel and the final reply.
import type { CancelToken } from '../cancel.js';
import { DeadlineExceededError, toWireError } from '../errors.js';
import type { ItemSource, RpcResponse } from './transport.js';

/** Items a reader lets the producer send ahead of what it has read. */
export const STREAM_WINDOW = 16;
/** The most credit one grant may carry: more is a peer's mistake. */
export const MAX_CREDIT = 1 << 20;

/** What a reader sends its producer. */
export interface ReaderLink {
  /** lets the producer send `n` more items */
  credit(n: number): void;
  /** tells the producer to stop: the reader stopped reading before the end */
  stop(): void;
}

type Waiter = {
  resolve: (r: IteratorResult<unknown, unknown>) => void;
  reject: (err: unknown) => void;
};

/**
 * The reading side of a stream: an async iterator of the items as they
 * arrive, holding at most a window of them. It grants credit back as the
 * items are read (half a window at a time, so that grants are few and the
 * producer never waits on a reader that keeps up).
 */
export class StreamReader implements AsyncIterableIterator<unknown, unknown> {
  readonly #link: ReaderLink;
  readonly #window: number;
  #items: unknown[] = [];
  /** items read since credit was last granted */
  #read = 0;
  #waiter: Waiter | undefined;
  #end: { result: unknown } | { error: unknown } | undefined;
  #finished = false;

  constructor(link: ReaderLink, window = STREAM_WINDOW) {
    this.#link = link;
    this.#window = window;
  }

  /** Credit to grant with the request: the whole window. */
  get window(): number {
    return this.#window;
  }

  /**
   * One item from the producer. False when it came beyond the credit
   * granted (the producer ignores flow control): the transport fails the
   * stream rather than hold it.
   */
  push(item: unknown): boolean {
    if (this.#end || this.#finished) return true;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      this.#taken();
      waiter.resolve({ done: false, value: item });
      return true;
    }
    if (this.#items.length >= this.#window) return false;
    this.#items.push(item);
    return true;
  }

  /** The stream ended with its result (after its last item). */
  finish(result: unknown): void {
    if (this.#end || this.#finished) return;
    this.#end = { result };
    this.#wake();
  }

  /** The stream failed: the method threw, the call timed out, was cancelled or lost. */
  fail(error: unknown): void {
    if (this.#end || this.#finished) return;
    this.#end = { error };
    this.#wake();
  }

  next(): Promise<IteratorResult<unknown, unknown>> {
    if (this.#items.length > 0) {
      this.#taken();
      return Promise.resolve({ done: false, value: this.#items.shift() });
    }
    const end = this.#end;
    if (end) {
      this.#finished = true;
      this.#end = undefined;
      return 'error' in end
        ? // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- a cancel's reason is the canceller's
          Promise.reject(end.error)
        : Promise.resolve({ done: true, value: end.result });
    }
    if (this.#finished) return Promise.resolve({ done: true, value: undefined });
    if (this.#waiter) return Promise.reject(new Error('next() called again before it resolved'));
    return new Promise((resolve, reject) => (this.#waiter = { resolve, reject }));
  }

  /** The reader stops early (`break`): the producer is told to stop, and what is buffered dropped. */
  return(value?: unknown): Promise<IteratorResult<unknown, unknown>> {
    const ended = this.#finished || this.#end !== undefined;
    this.#finished = true;
    this.#end = undefined;
    this.#items = [];
    const waiter = this.#waiter;
    this.#waiter = undefined;
    waiter?.resolve({ done: true, value: undefined });
    if (!ended) this.#link.stop();
    return Promise.resolve({ done: true, value });
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  #taken(): void {
    if (++this.#read >= Math.max(1, this.#window >> 1)) {
      const n = this.#read;
      this.#read = 0;
      this.#link.credit(n);
    }
  }

  #wake(): void {
    const waiter = this.#waiter;
    if (!waiter || this.#items.length > 0) return;
    this.#waiter = undefined;
    const end = this.#end!;
    this.#finished = true;
    this.#end = undefined;
    if ('error' in end) waiter.reject(end.error);
    else waiter.resolve({ done: true, value: end.result });
  }
}

/**
 * A stream's items as a transport hands them to its caller: yields what
 * the reader gets, returns the stream's result (through `end`, which may
 * turn it into the result or throw the error it holds), and tells the
 * producer to stop when the caller stops reading early.
 */
export async function* itemsOf(
  reader: AsyncIterator<unknown, unknown>,
  end: (last: unknown) => unknown = (last) => last,
): AsyncGenerator<unknown, unknown> {
  try {
    for (let next = await reader.next(); ; next = await reader.next()) {
      if (next.done) return end(next.value);
      yield next.value;
    }
  } finally {
    await reader.return?.();
  }
}

/** Where a pump sends what it pulls. */
export interface PumpSink {
  /** Sends one item; throws when it cannot (too large, not serializable): the stream then fails. */
  item(value: unknown): void;
  /**
   * The stream is over, once: `response` is the final reply to send (the
   * result, or the error that ended it), undefined when the reader stopped
   * it and wants nothing more.
   */
  end(response: RpcResponse | undefined): void;
}

/**
 * The serving side of a stream: pulls items from the producer while the
 * reader's credit lasts, and stops the producer when the reader stops,
 * is cancelled, goes away, or the call's deadline passes.
 */
export class StreamPump {
  readonly #items: ItemSource;
  readonly #sink: PumpSink;
  readonly #what: string;
  #credit = 0;
  #pulling = false;
  #done = false;
  #timer: NodeJS.Timeout | undefined;
  #unlink: (() => void) | undefined;

  /**
   * `timeout`: milliseconds until the call's deadline (from the request);
   * `cancel`: the request's token, whose abort stops the producer.
   */
  constructor(
    items: ItemSource,
    sink: PumpSink,
    options: { what: string; timeout?: number; cancel?: CancelToken },
  ) {
    this.#items = items;
    this.#sink = sink;
    this.#what = options.what;
    const { timeout, cancel } = options;
    if (timeout !== undefined) {
      this.#timer = setTimeout(() => {
        const err = new DeadlineExceededError(
          `${this.#what}'s deadline passed before its stream ended`,
        );
        this.#stop('its deadline passed', { ok: false, error: toWireError(err) });
      }, timeout);
      this.#timer.unref();
    }
    if (cancel) this.#unlink = cancel.onAbort((reason) => this.stop(describe(reason)));
  }

  /** Whether the stream is over. */
  get done(): boolean {
    return this.#done;
  }

  /** The reader grants `n` more items. */
  credit(n: number): void {
    if (this.#done) return;
    this.#credit = Math.min(this.#credit + n, MAX_CREDIT);
    if (!this.#pulling) void this.#pump();
  }

  /** The reader stopped, was cancelled or went away: stop the producer, send nothing more. */
  stop(why: string): void {
    this.#stop(why, undefined);
  }

  #stop(why: string, response: RpcResponse | undefined): void {
    if (this.#done) return;
    this.#settle(response);
    void this.#items.return(why);
  }

  #settle(response: RpcResponse | undefined): void {
    this.#done = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#unlink?.();
    this.#sink.end(response);
  }

  async #pump(): Promise<void> {
    this.#pulling = true;
    try {
      while (this.#credit > 0 && !this.#done) {
        this.#credit--;
        let next: IteratorResult<unknown, unknown>;
        try {
          next = await this.#items.next();
        } catch (err) {
          if (!this.#done) this.#settle({ ok: false, error: toWireError(err) });
          return;
        }
        // Stopped while the item was being made: it is dropped.
        if (this.#done) return;
        if (next.done) {
          this.#settle({ ok: true, result: next.value ?? null });
          return;
        }
        try {
          this.#sink.item(next.value);
        } catch (err) {
          this.#stop('an item could not be sent', { ok: false, error: toWireError(err) });
          return;
        }
      }
    } finally {
      this.#pulling = false;
    }
  }
}

function describe(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason);
}
