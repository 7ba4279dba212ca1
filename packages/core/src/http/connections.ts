import type { Socket } from 'node:net';

// What the HTTP entrypoint does with its connections apart from serving
// requests on them: the limits' summary, the answers to requests it cannot
// read, and the close that does not reset a client while it stops.

/** Why the HTTP entrypoint's limits closed a connection. */
export type ClosedBy = 'refusedOverCap' | 'headersTimedOut' | 'requestTimedOut';

export type ClosedCounts = Record<ClosedBy, number>;

/** Distinct client addresses named in one report, at most. */
const MAX_SOURCES = 5;

/**
 * Sums the connections the HTTP entrypoint's limits close over a burst and
 * reports them in one line: the first of a quiet period opens a window
 * that reports, when it ends `windowMs` later, what it counted. An attack
 * of thousands of connections a second costs one log line a second, never
 * one per connection, and a single one is still seen.
 */
export class ClosedConnections {
  readonly #report: (counts: ClosedCounts, sources: string[]) => void;
  readonly #windowMs: number;
  #counts: ClosedCounts = { refusedOverCap: 0, headersTimedOut: 0, requestTimedOut: 0 };
  readonly #sources = new Set<string>();
  #timer: NodeJS.Timeout | undefined;

  constructor(report: (counts: ClosedCounts, sources: string[]) => void, windowMs = 1000) {
    this.#report = report;
    this.#windowMs = windowMs;
  }

  /** Counts one connection closed, from `source` (the client's address) when known. */
  count(why: ClosedBy, source: string | undefined): void {
    this.#counts[why]++;
    if (source !== undefined && this.#sources.size < MAX_SOURCES) this.#sources.add(source);
    if (this.#timer) return;
    this.#timer = setTimeout(() => this.flush(), this.#windowMs);
    this.#timer.unref();
  }

  /** Reports what was counted since the last report, if anything. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const counts = this.#counts;
    if (counts.refusedOverCap + counts.headersTimedOut + counts.requestTimedOut === 0) return;
    this.#counts = { refusedOverCap: 0, headersTimedOut: 0, requestTimedOut: 0 };
    const sources = [...this.#sources];
    this.#sources.clear();
    this.#report(counts, sources);
  }
}

/**
 * What a client whose request the server cannot read is sent before its
 * connection closes: Node's own answers (its default `clientError`
 * handling, which a listener replaces).
 */
const CLIENT_ERROR_RESPONSES: Readonly<Record<string, Buffer>> = {
  ERR_HTTP_REQUEST_TIMEOUT: canned(408, 'Request Timeout'),
  HPE_HEADER_OVERFLOW: canned(431, 'Request Header Fields Too Large'),
  HPE_CHUNK_EXTENSIONS_OVERFLOW: canned(413, 'Payload Too Large'),
};
const BAD_REQUEST = canned(400, 'Bad Request');

function canned(status: number, phrase: string): Buffer {
  return Buffer.from(`HTTP/1.1 ${status} ${phrase}\r\nConnection: close\r\n\r\n`, 'latin1');
}

/** The response a client error with `code` is answered with. */
export function clientErrorResponse(code: string | undefined): Buffer {
  return (code === undefined ? undefined : CLIENT_ERROR_RESPONSES[code]) ?? BAD_REQUEST;
}

/**
 * While stopping, a keep-alive connection idle this long is closed. Not at
 * once: a client reuses a connection the moment its response arrives, and
 * closing it then reset the request already on its way (`ECONNRESET`; 24 to
 * 70 requests per rolling restart under 50 keep-alive connections). A
 * request that does arrive is served with `Connection: close`.
 */
export const STOP_IDLE_GRACE_MS = 1000;

/**
 * While stopping, how long a connection whose last response said
 * `Connection: close` stays open, reading and ignoring what comes, for the
 * client to close its side. Closing at once reset it (RST) when the client
 * had already sent its next request (load tools such as autocannon do),
 * and the client saw an error instead of a closed connection to retry on.
 */
const CLOSE_LINGER_MS = 2000;

/**
 * Ends a socket after its last response without resetting it: our side is
 * closed (FIN) once written, then the socket is destroyed when the client
 * closes its side, or after {@link CLOSE_LINGER_MS}. Node calls
 * `destroySoon()` after a `Connection: close` response.
 */
export function lingerOnClose(socket: Socket, lingering: WeakSet<Socket>): void {
  socket.destroySoon = function (this: Socket) {
    lingering.add(this);
    if (this.writable) this.end();
    const timer = setTimeout(() => this.destroy(), CLOSE_LINGER_MS);
    timer.unref();
    this.once('end', () => this.destroy());
    this.once('close', () => clearTimeout(timer));
  };
}
