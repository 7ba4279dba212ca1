import { Backoff } from '../backoff.js';
import type { Logger } from '../log/logger.js';

/**
 * Messages ZeroMQ itself queues for one peer of a responder. A peer that
 * never reads pins at most this many messages there (it pinned 680 MB at
 * ZeroMQ's default of 1000 with 1 MiB replies); what does not fit waits
 * in the peer's backlog below, counted in bytes.
 */
export const REPLY_HIGH_WATER = 64;

/**
 * The pauses before a full ZeroMQ queue is tried again (a peer's backlog
 * here, a caller's sends in link.ts): 1 ms, doubling while it stays full,
 * at most 100 ms; no jitter, as nothing else races for the same queue.
 */
export function fullQueueBackoff(): Backoff {
  return new Backoff({ initialMs: 1, maxMs: 100, jitter: 0 });
}

interface Backlog {
  routingId: Buffer;
  messages: Buffer[];
  bytes: number;
}

interface RouterLike {
  send(msg: Buffer[]): Promise<void>;
}

/**
 * The outgoing side of a ROUTER that is `mandatory` with a send timeout of
 * 0: a send to a peer whose ZeroMQ queue is full fails at once (EAGAIN)
 * instead of being dropped or blocking every peer. Such a peer's messages
 * wait, in order, in a backlog of its own that is tried again with a
 * growing pause (no spin); a peer whose backlog grows past `limitBytes`
 * does not read what it is sent: its backlog is freed, it is dropped
 * (`onDrop`), and nothing more is sent to it or taken from it until it
 * goes away. Messages to other peers are never held up by it.
 */
export class ReplyQueue {
  readonly #router: RouterLike;
  readonly #limit: number;
  readonly #log: Logger;
  readonly #label: string;
  readonly #onDrop: (peer: string) => void;
  readonly #queue: Array<{ peer: string; routingId: Buffer; bytes: Buffer }> = [];
  readonly #backlogs = new Map<string, Backlog>();
  readonly #dropped = new Set<string>();
  #running = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #retry = fullQueueBackoff();

  constructor(
    router: RouterLike,
    options: { limitBytes: number; log: Logger; label: string; onDrop: (peer: string) => void },
  ) {
    this.#router = router;
    this.#limit = options.limitBytes;
    this.#log = options.log;
    this.#label = options.label;
    this.#onDrop = options.onDrop;
  }

  /** Sends `bytes` to the peer of `routingId`, in order with what was sent to it before. */
  send(routingId: Buffer, bytes: Buffer): void {
    const peer = routingId.toString('hex');
    if (this.#dropped.has(peer)) return;
    this.#queue.push({ peer, routingId, bytes });
    void this.#pump();
  }

  /** Whether the peer was dropped for not reading (until it goes away). */
  dropped(peer: string): boolean {
    return this.#dropped.has(peer);
  }

  /** The peer went away: what waits for it is freed, and a new one of its id starts afresh. */
  gone(peer: string): void {
    this.#backlogs.delete(peer);
    this.#dropped.delete(peer);
  }

  /** Bytes waiting in backlogs, all peers together. */
  get backlogBytes(): number {
    let sum = 0;
    for (const b of this.#backlogs.values()) sum += b.bytes;
    return sum;
  }

  close(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#queue.length = 0;
    this.#backlogs.clear();
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      // What waited goes first, so that a peer's messages keep their order.
      const progressed = await this.#retryBacklogs();
      for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
        if (this.#dropped.has(item.peer)) continue;
        const backlog = this.#backlogs.get(item.peer);
        if (backlog) {
          this.#hold(item.peer, backlog, item.bytes);
          continue;
        }
        const sent = await this.#try(item.routingId, item.bytes);
        if (sent === 'full') {
          const fresh: Backlog = { routingId: item.routingId, messages: [], bytes: 0 };
          this.#backlogs.set(item.peer, fresh);
          this.#hold(item.peer, fresh, item.bytes);
        }
      }
      if (progressed) this.#retry.reset();
    } finally {
      this.#running = false;
    }
    this.#schedule();
  }

  /** Hands what it can of every backlog to ZeroMQ; whether any went. */
  async #retryBacklogs(): Promise<boolean> {
    let progressed = false;
    for (const [peer, backlog] of [...this.#backlogs]) {
      while (backlog.messages.length > 0) {
        const head = backlog.messages[0]!;
        const sent = await this.#try(backlog.routingId, head);
        if (sent === 'full') break;
        backlog.messages.shift();
        backlog.bytes -= head.length;
        progressed = true;
      }
      if (backlog.messages.length === 0 && this.#backlogs.get(peer) === backlog) {
        this.#backlogs.delete(peer);
      }
    }
    return progressed;
  }

  #hold(peer: string, backlog: Backlog, bytes: Buffer): void {
    backlog.messages.push(bytes);
    backlog.bytes += bytes.length;
    if (backlog.bytes <= this.#limit) return;
    this.#backlogs.delete(peer);
    this.#dropped.add(peer);
    this.#log.warn(`${this.#label} peer does not read its replies: dropping it`, {
      peer,
      queuedBytes: backlog.bytes,
      limit: this.#limit,
    });
    this.#onDrop(peer);
  }

  /** One send that never waits: 'full' when the peer's ZeroMQ queue is. */
  async #try(routingId: Buffer, bytes: Buffer): Promise<'sent' | 'full' | 'lost'> {
    try {
      await this.#router.send([routingId, bytes]);
      return 'sent';
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === 'EAGAIN') return 'full';
      // EHOSTUNREACH: the peer went away; its message goes with it.
      if (code !== 'EHOSTUNREACH') {
        this.#log.debug('could not send a reply', { error: (err as Error).message });
      }
      return 'lost';
    }
  }

  /** Tries the backlogs again later, each time a little later while they do not move. */
  #schedule(): void {
    if (this.#backlogs.size === 0 || this.#timer) return;
    const wait = this.#retry.next();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pump();
    }, wait);
    this.#timer.unref();
  }
}
