/**
 * What stops a call or a worker early, shared by the transports and the
 * container without an AbortSignal's cost. An AbortSignal is an
 * EventTarget: making one, and adding and removing a listener, cost
 * microseconds, several times the rest of a small call; a token is a
 * plain object, and its listeners a Set made on the first one. Workers
 * and callers get an AbortSignal only when they ask for one
 * (`context.signal`, a call's `signal` option).
 */
export class CancelToken {
  #reason: unknown;
  #aborted = false;
  #listeners: Set<(reason: unknown) => void> | undefined;

  /** Whether it was cancelled. */
  get aborted(): boolean {
    return this.#aborted;
  }

  /** Why it was cancelled (what the call rejects with). */
  get reason(): unknown {
    return this.#reason;
  }

  /** Cancels, once: later calls do nothing. Listeners run now, in the order they were added. */
  abort(reason: unknown): void {
    if (this.#aborted) return;
    this.#aborted = true;
    this.#reason = reason;
    const listeners = this.#listeners;
    this.#listeners = undefined;
    if (!listeners) return;
    for (const listener of listeners) {
      try {
        listener(reason);
      } catch {
        // One listener's failure must not keep the others from hearing of the cancel.
      }
    }
  }

  /**
   * Calls `listener` when cancelled (at once when it is already); returns
   * the function that stops listening, to call when what listens is done.
   */
  onAbort(listener: (reason: unknown) => void): () => void {
    if (this.#aborted) {
      listener(this.#reason);
      return noop;
    }
    (this.#listeners ??= new Set()).add(listener);
    return () => this.#listeners?.delete(listener);
  }

  /**
   * A token cancelled when any of `sources` is, and the function that
   * unlinks it from them (call it when the call it served has settled, so
   * that a long-lived AbortSignal does not collect listeners).
   */
  static linked(sources: ReadonlyArray<CancelToken | AbortSignal>): {
    token: CancelToken;
    unlink: () => void;
  } {
    const token = new CancelToken();
    const unlinks: Array<() => void> = [];
    for (const source of sources) {
      if (token.aborted) break;
      if (source instanceof CancelToken) {
        unlinks.push(source.onAbort((reason) => token.abort(reason)));
      } else if (source.aborted) {
        token.abort(source.reason);
      } else {
        const onAbort = () => token.abort(source.reason);
        source.addEventListener('abort', onAbort, { once: true });
        unlinks.push(() => source.removeEventListener('abort', onAbort));
      }
    }
    return {
      token,
      unlink: () => {
        for (const unlink of unlinks) unlink();
      },
    };
  }
}

const noop = (): void => {};
