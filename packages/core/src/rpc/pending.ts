import type { CancelToken } from '../cancel.js';
import { RpcTimeoutError } from '../errors.js';
import { IdTable } from './id-table.js';

/** One call waiting for its answer. */
export class PendingCall<T, M> {
  /** stops listening to the call's cancel token, once the call has settled */
  unlink: (() => void) | undefined = undefined;

  constructor(
    readonly resolve: (value: T) => void,
    readonly reject: (err: Error) => void,
    readonly deadline: number,
    readonly timeout: number,
    // Names only, not the request: holding the request would keep its whole
    // object graph alive across young-generation collections.
    /** what was called (`Greeting`), for the timeout's message */
    readonly what: string,
    /** the method called, when `what` is a service */
    readonly method: string | undefined,
    /** what the transport keeps with the call (say, what to publish again) */
    readonly meta: M,
  ) {}
}

/**
 * The calls a client waits on, by id. Each settles once: by its answer,
 * by its deadline (RpcTimeoutError), or when the connection it went out
 * on is lost (`failAll`); whatever comes for it later finds nothing and
 * is dropped. One timer, armed for the earliest deadline, serves every
 * call: a timer per call was a Timeout object and two list operations on
 * every call. It does not keep the process alive; what the calls went
 * out on does.
 */
export class PendingCalls<T, M = undefined> {
  // By number, not in a Map: `id-table.ts` says why.
  readonly #calls = new IdTable<PendingCall<T, M>>();
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  readonly #sweep = () => this.#expire();

  /** Calls waiting now. */
  get size(): number {
    return this.#calls.size;
  }

  /**
   * A promise of the answer to call `id`, failed with RpcTimeoutError
   * (`<what>.<method> did not answer within <timeout> ms`) after
   * `timeoutMs`. Send the request after making it: an answer may come
   * before anything else runs. When `cancel` is aborted while the call
   * waits, the call fails with its reason and `onCancel(id)` runs (to tell
   * the server); a token aborted already fails it at once, and then
   * `onCancel` is not called: nothing has been sent yet.
   */
  wait(
    id: number,
    timeoutMs: number,
    what: string,
    method: string | undefined,
    meta: M,
    cancel?: CancelToken,
    onCancel?: (id: number) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (cancel?.aborted) {
        // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the canceller's reason, as fetch rejects with its signal's
        reject(cancel.reason);
        return;
      }
      const deadline = Date.now() + timeoutMs;
      const call = new PendingCall(resolve, reject, deadline, timeoutMs, what, method, meta);
      this.#calls.set(id, call);
      if (deadline < this.#timerAt) this.#arm(deadline);
      if (cancel) {
        call.unlink = cancel.onAbort((reason) => {
          if (this.#calls.get(id) !== call) return;
          this.#calls.delete(id);
          call.unlink = undefined;
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the canceller's reason, as fetch rejects with its signal's
          reject(reason);
          onCancel?.(id);
        });
      }
    });
  }

  /** The call `id`, still waiting, if any. */
  get(id: number): PendingCall<T, M> | undefined {
    return this.#calls.get(id);
  }

  /** Removes call `id` to settle it: only the first taker gets it. */
  take(id: number): PendingCall<T, M> | undefined {
    const call = this.#calls.get(id);
    if (call !== undefined) {
      this.#calls.delete(id);
      if (call.unlink) unlink(call);
    }
    return call;
  }

  /** Settles call `id` with its answer; false when it had settled already. */
  resolve(id: number, value: T): boolean {
    const call = this.take(id);
    call?.resolve(value);
    return call !== undefined;
  }

  /** Fails call `id`; false when it had settled already. */
  reject(id: number, err: Error): boolean {
    const call = this.take(id);
    call?.reject(err);
    return call !== undefined;
  }

  /** Fails every waiting call with `err` (the connection is lost or closed). */
  failAll(err: Error): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
    if (this.#calls.size === 0) return;
    const calls = [...this.#calls.values()];
    this.#calls.clear();
    for (const call of calls) {
      if (call.unlink) unlink(call);
      call.reject(err);
    }
  }

  /** The waiting calls, by id. */
  entries(): IterableIterator<[number, PendingCall<T, M>]> {
    return this.#calls.entries();
  }

  #arm(at: number): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#sweep, Math.max(0, at - Date.now()));
    this.#timer.unref();
  }

  /** Fails the calls whose deadline has passed and re-arms for the next one. */
  #expire(): void {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const now = Date.now();
    let next = Infinity;
    for (const [id, call] of this.#calls) {
      if (call.deadline <= now) {
        this.#calls.delete(id);
        if (call.unlink) unlink(call);
        const what = call.method === undefined ? call.what : `${call.what}.${call.method}`;
        call.reject(new RpcTimeoutError(`${what} did not answer within ${call.timeout} ms`));
      } else if (call.deadline < next) next = call.deadline;
    }
    if (next !== Infinity) this.#arm(next);
  }
}

function unlink(call: { unlink: (() => void) | undefined }): void {
  const off = call.unlink;
  call.unlink = undefined;
  off?.();
}
