import type { ServerResponse } from 'node:http';

export interface SseOptions {
  /** bytes the socket may hold unsent before the browser counts as too slow and is dropped */
  maxQueuedBytes: number;
  /** a comment line this often keeps proxies and dead-peer detection honest, ms (0: none) */
  heartbeatMs?: number;
}

/**
 * One server-sent-events stream to one browser. Writes never wait: when
 * the socket already holds more than `maxQueuedBytes` unsent, the browser
 * is too slow (or gone) and the stream is closed instead of growing the
 * server's memory; the page reconnects and starts from a fresh snapshot.
 */
export class SseStream {
  readonly #res: ServerResponse;
  readonly #max: number;
  readonly #heartbeat: NodeJS.Timeout | undefined;
  readonly #onClose: Array<() => void> = [];
  #closed = false;
  /** why the stream ended: `client` (the browser left), `slow` (dropped), `server` */
  endedBy: 'client' | 'slow' | 'server' | undefined;

  constructor(res: ServerResponse, options: SseOptions) {
    this.#res = res;
    this.#max = options.maxQueuedBytes;
    res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Accel-Buffering': 'no',
    });
    res.flushHeaders();
    res.socket?.setNoDelay(true);
    res.on('close', () => this.#end('client'));
    const every = options.heartbeatMs ?? 15_000;
    this.#heartbeat =
      every > 0 ? setInterval(() => this.#write(': keep-alive\n\n'), every).unref() : undefined;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** Sends one event; false when the stream is closed (now or before). */
  send(event: string, data: string): boolean {
    // `data` is JSON: it holds no raw newline, so one `data:` line carries it.
    return this.#write(`event: ${event}\ndata: ${data}\n\n`);
  }

  #write(chunk: string): boolean {
    if (this.#closed) return false;
    if (this.#res.writableLength > this.#max) {
      this.#end('slow');
      return false;
    }
    this.#res.write(chunk);
    return true;
  }

  /** Calls `fn` once the stream has ended, whoever ended it. */
  onClose(fn: () => void): void {
    if (this.#closed) fn();
    else this.#onClose.push(fn);
  }

  close(): void {
    this.#end('server');
  }

  #end(by: 'client' | 'slow' | 'server'): void {
    if (this.#closed) return;
    this.#closed = true;
    this.endedBy = by;
    if (this.#heartbeat) clearInterval(this.#heartbeat);
    // A slow browser's unsent bytes are thrown away with its socket, not flushed.
    if (by === 'slow') this.#res.destroy();
    else this.#res.end();
    for (const fn of this.#onClose.splice(0)) {
      try {
        fn();
      } catch {
        // one listener's failure must not keep the others from cleaning up
      }
    }
  }
}
