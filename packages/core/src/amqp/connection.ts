import { Writable } from 'node:stream';
import type { ChannelModel } from 'amqplib';
import { Backoff } from '../backoff.js';
import { BackendError } from '../errors.js';
import type { Logger } from '../log/logger.js';

/** Tuning of one broker connection. */
export interface AmqpConnectionOptions {
  /** AMQP heartbeat in seconds (default 30), unless the URL sets `heartbeat` */
  heartbeat?: number;
  /** first reconnect delay in ms (default 200); doubles up to `maxBackoffMs`, each up to a fifth shorter at random */
  minBackoffMs?: number;
  /** longest reconnect delay in ms (default 5000) */
  maxBackoffMs?: number;
}

type Listener = (model: ChannelModel) => void;

/** `amqp://user:secret@host` without the password, for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@');
}

/**
 * amqplib writes every frame (method, header, body; acks) with its own
 * socket write, and with noDelay each is a syscall and a TCP segment: a
 * third of a busy publisher's CPU. Corking the socket from the first write
 * of a tick to the end of that tick sends them together, in the same order.
 */
function coalesceWrites(model: ChannelModel): void {
  const stream = (model as unknown as { connection?: { stream?: unknown } }).connection?.stream;
  if (!(stream instanceof Writable)) return;
  const write = stream.write.bind(stream);
  let corked = false;
  const uncork = () => {
    corked = false;
    stream.uncork();
  };
  stream.write = function (...args: Parameters<Writable['write']>): boolean {
    if (!corked) {
      corked = true;
      stream.cork();
      process.nextTick(uncork);
    }
    return write(...args);
  } as Writable['write'];
}

function withHeartbeat(url: string, heartbeat: number): string {
  if (/[?&]heartbeat=/.test(url)) return url;
  return `${url}${url.includes('?') ? '&' : '?'}heartbeat=${heartbeat}`;
}

/**
 * One connection to RabbitMQ that heals itself: it reconnects with
 * exponential backoff for as long as somebody holds it, and tells its
 * listeners about every new connection so they re-open their channels,
 * re-declare their topology and resume consuming. Processes share one per
 * URL through {@link AmqpConnection.acquire}.
 */
export class AmqpConnection {
  static readonly #shared = new Map<string, AmqpConnection>();

  readonly url: string;
  readonly #log: Logger;
  readonly #options: Required<AmqpConnectionOptions>;
  readonly #listeners = new Set<Listener>();
  readonly #waiters = new Set<() => void>();
  #model: ChannelModel | undefined;
  #closed = false;
  #started = false;
  #refs = 0;
  #lastError: Error | undefined;
  #everConnected = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(url: string, log: Logger, options: AmqpConnectionOptions = {}) {
    this.url = url;
    this.#log = log.child({ broker: redactUrl(url) });
    this.#options = {
      heartbeat: options.heartbeat ?? 30,
      minBackoffMs: options.minBackoffMs ?? 200,
      maxBackoffMs: options.maxBackoffMs ?? 5000,
    };
  }

  /**
   * The process-wide connection for `url` when `shared`, else one of the
   * caller's own; give either back with {@link release}.
   */
  static open(
    url: string,
    log: Logger,
    shared: boolean,
    options?: AmqpConnectionOptions,
  ): AmqpConnection {
    return shared
      ? AmqpConnection.acquire(url, log, options)
      : new AmqpConnection(url, log, options);
  }

  /** The process-wide connection for `url`; give it back with {@link release}. */
  static acquire(url: string, log: Logger, options?: AmqpConnectionOptions): AmqpConnection {
    let conn = AmqpConnection.#shared.get(url);
    if (!conn || conn.#closed) {
      conn = new AmqpConnection(url, log, options);
      AmqpConnection.#shared.set(url, conn);
    }
    conn.#refs++;
    conn.#start();
    return conn;
  }

  /** Drops one hold on a shared connection (the last one closes it); closes a connection of its own. */
  async release(): Promise<void> {
    this.#refs = Math.max(0, this.#refs - 1);
    if (this.#refs > 0) return;
    if (AmqpConnection.#shared.get(this.url) === this) AmqpConnection.#shared.delete(this.url);
    await this.close();
  }

  /** The live connection, if any. */
  get current(): ChannelModel | undefined {
    return this.#model;
  }

  /**
   * Why the connection cannot carry traffic right now, or undefined while
   * it is up: for an instance's readiness. The state only: `/readyz` answers
   * anyone who reaches the metrics port, and an error's text names hosts and
   * ports; the error itself is in the log.
   */
  unavailable(): string | undefined {
    if (this.#model) return undefined;
    if (this.#closed) return 'RabbitMQ connection closed';
    return this.#everConnected
      ? 'RabbitMQ connection lost, reconnecting'
      : 'RabbitMQ not connected yet';
  }

  /**
   * Calls `listener` with every new connection, now too if one is up.
   * Returns a function that stops the calls.
   */
  onConnect(listener: Listener): () => void {
    this.#listeners.add(listener);
    this.#start();
    if (this.#model) listener(this.#model);
    return () => this.#listeners.delete(listener);
  }

  /** Resolves with the live connection, waiting up to `waitMs` for one; else a BackendError. */
  async ready(waitMs: number): Promise<ChannelModel> {
    this.#start();
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.#closed) throw new BackendError('the RabbitMQ connection is closed');
      if (this.#model) return this.#model;
      const left = deadline - Date.now();
      if (left <= 0) throw this.unreachable(waitMs);
      await this.#changed(left);
    }
  }

  /** The error to raise when the broker stayed away for `waitMs`. */
  unreachable(waitMs: number): BackendError {
    const why = this.#lastError ? `: ${this.#lastError.message}` : '';
    return new BackendError(
      `RabbitMQ at ${redactUrl(this.url)} not reachable within ${waitMs} ms${why}`,
      { cause: this.#lastError },
    );
  }

  /** Resolves on the next connection change or after `ms`. */
  #changed(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#waiters.add(done);
    });
  }

  #notify(): void {
    for (const w of [...this.#waiters]) w();
  }

  #start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    void this.#connectLoop();
  }

  async #connectLoop(): Promise<void> {
    const amqp = await import('amqplib');
    const backoff = new Backoff({
      initialMs: this.#options.minBackoffMs,
      maxMs: this.#options.maxBackoffMs,
    });
    while (!this.#closed) {
      try {
        // noDelay: without it Nagle holds a small publish or ack back until the
        // broker's delayed ACK (~40 ms), the tail of most calls and events.
        const model = await amqp.connect(withHeartbeat(this.url, this.#options.heartbeat), {
          noDelay: true,
        });
        if (this.#closed) {
          await model.close().catch(() => {});
          return;
        }
        coalesceWrites(model);
        this.#lastError = undefined;
        const gone = new Promise<void>((resolve) => {
          model.on('error', (err: Error) => {
            this.#lastError = err;
            this.#log.warn('RabbitMQ connection error', { error: err.message });
          });
          model.on('close', () => resolve());
        });
        this.#model = model;
        if (this.#everConnected) this.#log.info('connected to RabbitMQ again');
        else this.#log.debug('connected to RabbitMQ');
        this.#everConnected = true;
        for (const listener of [...this.#listeners]) listener(model);
        this.#notify();
        backoff.reset();
        await gone;
        this.#model = undefined;
        this.#notify();
        if (!this.#closed) this.#log.warn('RabbitMQ connection lost; reconnecting');
      } catch (err) {
        this.#lastError = err as Error;
        this.#log.debug('cannot connect to RabbitMQ', { error: (err as Error).message });
        this.#notify();
      }
      if (this.#closed) return;
      await new Promise<void>((resolve) => {
        this.#timer = setTimeout(resolve, backoff.next());
      });
    }
  }

  /** Closes the connection for good. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#listeners.clear();
    const model = this.#model;
    this.#model = undefined;
    this.#notify();
    if (model) {
      // amqplib's close() never settles when the socket ends before the broker's CloseOk
      // (a connection lost while closing); its 'close' event comes then.
      await new Promise<void>((resolve) => {
        model.once('close', () => resolve());
        model.close().then(resolve, () => resolve());
      });
    }
  }
}
