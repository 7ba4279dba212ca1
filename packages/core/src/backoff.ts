/** How the waits between retries grow. */
export interface BackoffOptions {
  /** the first wait, ms */
  initialMs: number;
  /** the longest wait, ms */
  maxMs: number;
  /** each wait is this many times the one before (default 2) */
  factor?: number;
  /**
   * the share of each wait taken off at random, from 0 (none) to 1 (up to
   * all of it); default 0.2
   */
  jitter?: number;
}

/**
 * Exponential backoff with jitter: waits of `initialMs`, then `factor`
 * times the previous one, never more than `maxMs`, each shortened by up
 * to `jitter` of itself at random. The randomness keeps the many clients
 * that lost the same broker (or the restarts of many crashed processes)
 * from all trying again in the same instant; taking it off rather than
 * adding it keeps `maxMs` a bound.
 */
export class Backoff {
  readonly #initialMs: number;
  readonly #maxMs: number;
  readonly #factor: number;
  readonly #jitter: number;
  #attempt = 0;

  constructor(options: BackoffOptions) {
    this.#initialMs = Math.max(0, options.initialMs);
    this.#maxMs = Math.max(this.#initialMs, options.maxMs);
    this.#factor = Math.max(1, options.factor ?? 2);
    this.#jitter = Math.min(1, Math.max(0, options.jitter ?? 0.2));
  }

  /** Waits handed out since the last reset. */
  get attempts(): number {
    return this.#attempt;
  }

  /** The next wait, ms (a whole number). */
  next(): number {
    return this.delay(this.#attempt++);
  }

  /** The wait before retry number `attempt` (0 for the first), without counting it. */
  delay(attempt: number): number {
    const ceiling = Math.min(this.#initialMs * this.#factor ** Math.max(0, attempt), this.#maxMs);
    return Math.round(ceiling * (1 - this.#jitter * Math.random()));
  }

  /** Starts again from `initialMs` (after a success). */
  reset(): void {
    this.#attempt = 0;
  }
}
