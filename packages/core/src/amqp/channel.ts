import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib';
import { Backoff } from '../backoff.js';
import { BackendError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { AmqpConnection } from './connection.js';

/**
 * One channel that is re-opened whenever it goes away, on the current
 * connection or the next one, running `onOpen` (declare topology, start
 * consumers) every time. A channel error (say, a refused declaration)
 * closes only this channel; it is retried with backoff.
 */
export class ChannelSlot<C extends Channel> {
  readonly #conn: AmqpConnection;
  readonly #log: Logger;
  readonly #confirm: boolean;
  readonly #onOpen: (channel: C) => Promise<void>;
  readonly #waiters = new Set<() => void>();
  #channel: C | undefined;
  #detach: (() => void) | undefined;
  #closed = false;
  #opening = false;
  readonly #retry = new Backoff({ initialMs: 200, maxMs: 5000 });
  #lastError: Error | undefined;

  constructor(
    conn: AmqpConnection,
    log: Logger,
    options: { confirm: boolean; onOpen?: (channel: C) => Promise<void> },
  ) {
    this.#conn = conn;
    this.#log = log;
    this.#confirm = options.confirm;
    this.#onOpen = options.onOpen ?? (async () => {});
  }

  /** The open channel, if any. */
  get current(): C | undefined {
    return this.#channel;
  }

  /** Starts keeping the channel open (idempotent). */
  activate(): void {
    if (this.#detach || this.#closed) return;
    this.#detach = this.#conn.onConnect((model) => void this.#open(model));
  }

  /** Resolves with the open channel, waiting up to `waitMs`; else the connection's BackendError. */
  async get(waitMs: number): Promise<C> {
    this.activate();
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.#channel) return this.#channel;
      if (this.#closed) throw new BackendError('the RabbitMQ channel is closed');
      const left = deadline - Date.now();
      if (left <= 0) {
        const err = this.#conn.unreachable(waitMs);
        if (this.#conn.current && this.#lastError) {
          err.message = `RabbitMQ channel not usable: ${this.#lastError.message}`;
        }
        throw err;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, Math.min(left, 100));
        this.#waiters.add(done);
      });
    }
  }

  /** Forgets the channel `channel` (after a failure seen by its user) so that a new one opens. */
  invalidate(channel: C): void {
    if (this.#channel !== channel) return;
    this.#channel = undefined;
    void channel.close().catch(() => {});
  }

  async #open(model: ChannelModel): Promise<void> {
    if (this.#opening || this.#closed || this.#conn.current !== model) return;
    this.#opening = true;
    let channel: C | undefined;
    try {
      channel = (await (this.#confirm
        ? model.createConfirmChannel()
        : model.createChannel())) as unknown as C;
      const ch = channel;
      ch.on('error', (err: Error) => {
        this.#lastError = err;
        this.#log.warn('RabbitMQ channel error', { error: err.message });
      });
      ch.on('close', () => {
        if (this.#channel === ch) this.#channel = undefined;
        this.#reopenLater(model);
      });
      await this.#onOpen(ch);
      if (this.#closed) {
        await ch.close().catch(() => {});
        return;
      }
      this.#channel = ch;
      this.#retry.reset();
      for (const w of [...this.#waiters]) w();
    } catch (err) {
      this.#lastError = err as Error;
      this.#log.warn('cannot set up RabbitMQ channel', { error: (err as Error).message });
      if (channel) await channel.close().catch(() => {});
      this.#reopenLater(model);
    } finally {
      this.#opening = false;
      // a new connection that came while this one was being set up was skipped above
      const now = this.#conn.current;
      if (!this.#channel && !this.#closed && now && now !== model) void this.#open(now);
    }
  }

  #reopenLater(model: ChannelModel): void {
    if (this.#closed || this.#conn.current !== model) return;
    setTimeout(() => {
      if (!this.#channel) void this.#open(model);
    }, this.#retry.next()).unref();
  }

  /** Closes the channel and stops re-opening it. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#detach?.();
    const ch = this.#channel;
    this.#channel = undefined;
    for (const w of [...this.#waiters]) w();
    if (ch) await ch.close().catch(() => {});
  }
}

export type { Channel, ConfirmChannel };
