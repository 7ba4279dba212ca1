import type * as net from 'node:net';

/**
 * Bytes of unsent output past which a server stops reading a connection's
 * requests until the peer has read some replies (the socket drains).
 */
const PAUSE_BYTES = 1024 * 1024;

/**
 * A socket's write with backpressure. Past {@link PAUSE_BYTES} of unsent
 * output, a serving side stops reading the connection (`pauseReading`): a
 * peer that sends requests and never reads the replies gets no more
 * served. Past `limit`, the peer is dropped (`over` says why, then the
 * socket is destroyed): replies of requests already read can still pile up
 * while it is paused, and a reader that never reads would pin them all.
 * A client does not pause its reading: two peers each waiting for the
 * other to read would both stop.
 */
export function backpressuredWrite(
  socket: net.Socket,
  options: { limit: number; pauseReading: boolean; over: (queued: number) => void },
): (bytes: Buffer) => void {
  const { limit, pauseReading, over } = options;
  const pauseAt = Math.min(PAUSE_BYTES, limit);
  let paused = false;
  if (pauseReading) {
    socket.on('drain', () => {
      if (!paused) return;
      paused = false;
      socket.resume();
    });
  }
  return (bytes) => {
    if (socket.destroyed) return;
    socket.write(bytes);
    const queued = socket.writableLength;
    if (queued > limit) {
      over(queued);
      socket.destroy();
      return;
    }
    if (pauseReading && !paused && queued > pauseAt) {
      paused = true;
      socket.pause();
    }
  };
}

/** What a periodic sweep needs of one connection. */
export interface SweptConnection {
  readonly socket: net.Socket;
  /** `performance.now()` of its last byte in or out */
  lastActive: number;
  /** whether calls or streams still run for it (then it is never idle) */
  busy(): boolean;
}

/**
 * One timer for every connection of a server (not one per socket): closes
 * those idle past `idleTimeout`, and says in one log line per sweep what it
 * closed and how many connections the cap refused since the last one.
 */
export class ConnectionSweep {
  readonly #idleTimeout: number;
  readonly #report: (closedIdle: number, refused: number) => void;
  readonly #connections: () => Iterable<SweptConnection>;
  #refused = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: {
    idleTimeout: number;
    connections: () => Iterable<SweptConnection>;
    report: (closedIdle: number, refused: number) => void;
  }) {
    this.#idleTimeout = options.idleTimeout;
    this.#connections = options.connections;
    this.#report = options.report;
    // A few sweeps per idle period: a connection lives at most a quarter longer than its limit.
    const every = Math.min(Math.max(Math.floor(this.#idleTimeout / 4), 50), 15_000);
    this.#timer = setInterval(() => this.sweep(), every);
    this.#timer.unref();
  }

  /** Counts a connection refused by the cap (reported with the next sweep). */
  refused(): void {
    this.#refused++;
  }

  sweep(): void {
    const now = performance.now();
    let closed = 0;
    for (const conn of this.#connections()) {
      if (now - conn.lastActive < this.#idleTimeout || conn.busy()) continue;
      conn.socket.destroy();
      closed++;
    }
    if (closed > 0 || this.#refused > 0) this.#report(closed, this.#refused);
    this.#refused = 0;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
