import type { Limits } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { Serializer } from '../serializers/serializer.js';
import type { EventMessage } from './transport.js';

/** Refusals of delayed events over the cap are logged at most this often. */
const REFUSAL_LOG_MS = 10_000;

/** A delayed event held by its receiver until due, for one of its subscriptions. */
export interface Held<S> {
  timer: NodeJS.Timeout;
  due: number;
  event: EventMessage;
  sub: S;
  /** its body's encoded size, counted against `limits.delayed_event_bytes` */
  bytes: number;
}

/**
 * The delayed events an instance of the embedded event backend holds until
 * they are due, bounded in number and bytes (`limits.delayed_events`,
 * `limits.delayed_event_bytes`).
 */
export class HeldEvents<S> {
  readonly #limits: Limits;
  readonly #serializer: Serializer;
  readonly #log: Logger;
  readonly #held = new Set<Held<S>>();
  #bytes = 0;
  #refused = 0;
  #refusalLoggedAt = -Infinity;

  constructor(limits: Limits, serializer: Serializer, log: Logger) {
    this.#limits = limits;
    this.#serializer = serializer;
    this.#log = log;
  }

  /**
   * The size of one held copy of a delayed event, or why `count` more copies
   * cannot be held (the caps on held events and their bytes). Uncapped, 2000 injected
   * delayed 100 KB events took an instance from 60 to 380 MB. The publisher
   * is told, and tries another instance of the group or gives up with a
   * warning.
   */
  room(event: EventMessage, count: number): number | string {
    const { delayedEvents, delayedEventBytes } = this.#limits;
    let bytes = 0;
    try {
      bytes = this.#serializer.encode(event.body).length * count;
    } catch {
      bytes = Infinity;
    }
    let reason: string | undefined;
    if (this.#held.size + count > delayedEvents) {
      reason = `this instance holds ${this.#held.size} delayed events, its limit (limits.delayed_events) is ${delayedEvents}`;
    } else if (this.#bytes + bytes > delayedEventBytes) {
      reason = `this instance holds ${this.#bytes} bytes of delayed events, its limit (limits.delayed_event_bytes) is ${delayedEventBytes}`;
    }
    if (reason === undefined) return bytes / count;
    this.#refused++;
    const now = performance.now();
    if (now - this.#refusalLoggedAt >= REFUSAL_LOG_MS) {
      this.#refusalLoggedAt = now;
      this.#log.warn('refused delayed events over the limit', {
        refused: this.#refused,
        reason,
        type: event.type,
      });
      this.#refused = 0;
    }
    return reason;
  }

  /** Holds `event` for `sub` for `delay` ms, then hands it to `run`. */
  hold(
    event: EventMessage,
    sub: S,
    delay: number,
    bytes: number,
    run: (event: EventMessage, sub: S) => void,
  ): void {
    const held: Held<S> = {
      due: Date.now() + delay,
      event,
      sub,
      bytes,
      timer: setTimeout(() => {
        if (this.#held.delete(held)) this.#bytes -= held.bytes;
        run(event, sub);
      }, delay),
    };
    this.#held.add(held);
    this.#bytes += bytes;
  }

  /** Takes every held event out, its timer cleared (a graceful stop hands them over). */
  takeAll(): Held<S>[] {
    const held = [...this.#held];
    for (const h of held) clearTimeout(h.timer);
    this.#held.clear();
    this.#bytes = 0;
    return held;
  }
}
