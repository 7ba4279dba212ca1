import type { Logger } from './log/logger.js';

/** How often repeated bad frames are summarised in one log line. */
export const BAD_FRAME_SUMMARY_MS = 10_000;
/** Sources named in one summary line, at most. */
const SUMMARY_SOURCES = 20;

/**
 * Counts bad frames (undecodable, mis-shaped, over a limit) and logs them
 * without letting a flood flood the log: the first of a quiet period is
 * logged at once with its source, the ones after it are counted and
 * summarised in one line per period (how many, from where, the last
 * reason). Logging only the first of each host left every later attack
 * silent.
 */
export class BadFrameLog {
  count = 0;
  readonly #log: Logger;
  readonly #what: string;
  readonly #periodMs: number;
  #timer: NodeJS.Timeout | undefined;
  #since = 0;
  #sources = new Set<string>();
  #lastReason = '';

  constructor(log: Logger, what: string, periodMs = BAD_FRAME_SUMMARY_MS) {
    this.#log = log;
    this.#what = what;
    this.#periodMs = periodMs;
  }

  add(source: string, reason: string): void {
    this.count++;
    if (this.#timer === undefined) {
      this.#log.warn(`${this.#what} (more are summarised every ${this.#periodMs / 1000} s)`, {
        source,
        reason,
      });
      this.#arm();
      return;
    }
    this.#since++;
    if (this.#sources.size < SUMMARY_SOURCES) this.#sources.add(source);
    this.#lastReason = reason;
  }

  /** Logs what was counted since the last line, if anything. */
  flush(): void {
    if (this.#since === 0) return;
    this.#log.warn(`${this.#since} more: ${this.#what}`, {
      count: this.#since,
      total: this.count,
      sources: [...this.#sources],
      reason: this.#lastReason,
    });
    this.#since = 0;
    this.#sources = new Set();
  }

  /** Logs what is left and stops the timer (the transport is closing). */
  close(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.flush();
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      const quiet = this.#since === 0;
      this.flush();
      // A quiet period ends the series: the next bad frame is logged at once again.
      if (quiet) this.#timer = undefined;
      else this.#arm();
    }, this.#periodMs);
    this.#timer.unref();
  }
}
