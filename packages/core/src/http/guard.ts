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
