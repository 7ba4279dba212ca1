import type { Logger } from '../log/logger.js';

/** How often repeated refusals are summarised, ms. */
export const SUMMARY_EVERY_MS = 60_000;
const MAX_SOURCES_SHOWN = 5;

/**
 * Counts the peers a process refused and tells the log without flooding
 * it: the first refusal of each listener at once (with its reason), later
 * ones as one summary line per {@link SUMMARY_EVERY_MS} with their count
 * and sources.
 */
export class Refusals {
  readonly #log: Logger;
  readonly #everyMs: number;
  /** peers refused since the process started */
  total = 0;
  #pending = 0;
  readonly #sources = new Map<string, number>();
  #timer: NodeJS.Timeout | undefined;
  /** listeners whose first refusal was logged */
  readonly #logged = new Set<string>();

  constructor(log: Logger, everyMs = SUMMARY_EVERY_MS) {
    this.#log = log;
    this.#everyMs = everyMs;
  }

  record(listener: string, source: string, reason: string): void {
    this.total++;
    if (!this.#logged.has(listener) && this.#logged.size < 20) {
      this.#logged.add(listener);
      this.#log.warn(`refused a peer on the ${listener} listener: it ${reason}`, {
        source,
        refused: this.total,
      });
      return;
    }
    this.#pending++;
    const host = source.replace(/:\d+$/, '');
    if (this.#sources.size < 100 || this.#sources.has(host)) {
      this.#sources.set(host, (this.#sources.get(host) ?? 0) + 1);
    }
    if (!this.#timer) {
      this.#timer = setTimeout(() => this.flush(), this.#everyMs);
      this.#timer.unref?.();
    }
  }

  /** Logs the summary of refusals not told yet, if any. */
  flush(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#pending === 0) return;
    const sources = [...this.#sources.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, MAX_SOURCES_SHOWN)
      .map(([host, n]) => `${host} (${n})`);
    this.#log.warn(
      `refused ${this.#pending} more peer${this.#pending === 1 ? '' : 's'} that did not prove they belong to the cluster`,
      { sources, refused: this.total },
    );
    this.#pending = 0;
    this.#sources.clear();
  }

  close(): void {
    this.flush();
  }
}
