import { writeSync } from 'node:fs';

/** How a {@link LineWriter} batches. */
export interface LineWriterOptions {
  /** longest time (ms) a line waits in the buffer before it is written (default 10) */
  flushMs?: number;
  /**
   * buffered characters that get written at once, without waiting (default
   * 16 KiB: a quarter of a pipe, so that a write seldom finds it full)
   */
  highWater?: number;
  /**
   * characters kept while the destination takes nothing (a full pipe, a
   * stalled terminal); lines past it are dropped and counted (default 4 MiB)
   */
  maxBuffered?: number;
}

/** The writers holding lines not yet written: what `process.on('exit')` flushes. */
const pending = new Set<LineWriter>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  const flushAll = () => {
    for (const w of [...pending]) w.flushSync();
  };
  // 'exit' also fires on process.exit() and after an uncaught exception;
  // only synchronous work runs there, which is what flushSync() does.
  process.on('exit', flushAll);
  // A monitor changes nothing in how the exception is handled; it runs
  // before Node prints it, so the records logged before a crash come first.
  process.on('uncaughtExceptionMonitor', () => {
    flushAll();
    if (crashing()) blockStderr();
  });
}

/** Whether Node ends the process after the exception being reported (no handler keeps it). */
function crashing(): boolean {
  return (
    process.listenerCount('uncaughtException') === 0 &&
    !process.hasUncaughtExceptionCaptureCallback()
  );
}

/**
 * Makes stderr's descriptor blocking. Node prints an uncaught error with
 * one plain write to fd 2, which libuv made non-blocking for a pipe: when
 * the records flushed just before left the pipe full (a reader slower than
 * the burst), that write met EAGAIN and the crash's own message was lost.
 * Blocking, it waits for the reader instead; the process ends right after.
 */
function blockStderr(): void {
  const handle = (process.stderr as { _handle?: { setBlocking?: (on: boolean) => number } })
    ._handle;
  handle?.setBlocking?.(true);
}

/** Sleeps the thread without spinning (only on exit, when the event loop is gone). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** How long an exit flush waits, in total, for a full pipe to take the rest. */
const EXIT_WAIT_MS = 2000;

/**
 * Writes lines to a stream in batches: one write per `flushMs` (or per
 * `highWater` characters) instead of one per line, the way pino's
 * sonic-boom does. Lines keep their order; `flushSync()` writes everything
 * at once, and is called for every writer with lines left when the
 * process exits (`process.exit()`, an uncaught exception, the end of the
 * event loop). On a standard stream (fd 1 or 2) batches go to the file
 * descriptor directly: a pipe's descriptor is non-blocking once Node has
 * opened it, so a full pipe answers EAGAIN; the rest is kept and written
 * later (on exit: after short sleeps, for at most two seconds). A write
 * error (EPIPE: nobody reads any more) makes the writer drop everything
 * from then on, silently: it never throws, never emits and never retries a
 * dead destination, so a logger whose output is gone cannot recurse or spin.
 */
export class LineWriter {
  readonly #stream: NodeJS.WritableStream;
  readonly #fd: number | undefined;
  readonly #flushMs: number;
  readonly #highWater: number;
  readonly #maxBuffered: number;
  #buf = '';
  /** bytes of a batch that a full pipe did not take yet (written before `#buf`) */
  #rest: Buffer | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** the stream said it is full: wait for 'drain' */
  #waitingDrain = false;
  #broken = false;
  /** the pipe answered EAGAIN: only the timer tries again (one failed syscall per `flushMs`, not per line) */
  #blocked = false;
  /** lines dropped since the last write went through (reported in the next batch) */
  #droppedSinceReport = 0;
  /** lines dropped in all: the destination did not take them, or was gone */
  dropped = 0;

  constructor(stream: NodeJS.WritableStream, options: LineWriterOptions = {}) {
    this.#stream = stream;
    const fd = (stream as { fd?: unknown }).fd;
    this.#fd = fd === 1 || fd === 2 ? fd : undefined;
    this.#flushMs = options.flushMs ?? 10;
    this.#highWater = options.highWater ?? 16 * 1024;
    this.#maxBuffered = options.maxBuffered ?? 4 * 1024 * 1024;
    if (this.#fd === undefined) {
      // An async stream reports errors as events: one that nobody handles would crash the process.
      stream.on('error', () => this.#break());
    }
    installExitHook();
  }

  /** Whether the destination failed (closed pipe): lines are dropped from then on. */
  get broken(): boolean {
    return this.#broken;
  }

  /** Queues one line (with its newline); `now` writes it, and all before it, at once. */
  write(line: string, now = false): void {
    if (this.#broken) {
      this.dropped++;
      return;
    }
    if (this.#buf.length + (this.#rest?.length ?? 0) + line.length > this.#maxBuffered) {
      this.dropped++;
      this.#droppedSinceReport++;
      return;
    }
    pending.add(this);
    this.#buf += line;
    if (!this.#blocked && (now || this.#buf.length >= this.#highWater)) this.#flush();
    else this.#timer ??= setTimeout(this.#onTimer, this.#flushMs).unref();
  }

  /** Writes what it can now, without waiting; the rest goes on the next timer. */
  flush(): void {
    this.#flush();
  }

  /**
   * Writes everything now, waiting (without the event loop) for a full pipe
   * to take it: for `process.on('exit')`, when nothing asynchronous runs again.
   */
  flushSync(): void {
    this.#clearTimer();
    const deadline = Date.now() + EXIT_WAIT_MS;
    while (this.#hasData() && !this.#broken) {
      if (this.#fd === undefined) {
        // An async stream takes the chunk into its own queue; that is all we can do on exit.
        this.#streamWrite();
        break;
      }
      if (this.#fdWrite()) break;
      if (Date.now() > deadline) break;
      sleepSync(5);
    }
    if (!this.#hasData() || this.#broken) pending.delete(this);
  }

  #hasData(): boolean {
    return this.#buf.length > 0 || this.#rest !== undefined || this.#droppedSinceReport > 0;
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined;
    this.#flush();
  };

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #flush(): void {
    this.#clearTimer();
    if (!this.#hasData() || this.#broken || this.#waitingDrain) return;
    const done = this.#fd === undefined ? this.#streamWrite() : this.#fdWrite();
    if (done) pending.delete(this);
    // A full pipe: try again later rather than block the event loop.
    else if (!this.#broken && !this.#waitingDrain)
      this.#timer = setTimeout(this.#onTimer, this.#flushMs).unref();
  }

  /** The buffer, then a line saying how many lines were dropped after it, if any were. */
  #takeBatch(): string {
    let batch = this.#buf;
    this.#buf = '';
    if (this.#droppedSinceReport > 0) {
      const msg = `${this.#droppedSinceReport} log lines dropped: the output was not read fast enough`;
      batch += `${JSON.stringify({ time: Date.now(), level: 'warn', msg })}\n`;
      this.#droppedSinceReport = 0;
    }
    return batch;
  }

  /** Writes to fd 1/2 until done or EAGAIN; true when nothing is left. */
  #fdWrite(): boolean {
    try {
      for (;;) {
        if (this.#rest === undefined) {
          if (this.#buf.length === 0 && this.#droppedSinceReport === 0) return true;
          this.#rest = Buffer.from(this.#takeBatch());
        }
        while (this.#rest.length > 0)
          this.#rest = this.#rest.subarray(writeSync(this.#fd!, this.#rest));
        this.#rest = undefined;
        this.#blocked = false;
      }
    } catch (err) {
      // A full pipe: what it did not take stays in #rest, in front of anything logged since.
      if ((err as NodeJS.ErrnoException).code === 'EAGAIN') {
        this.#blocked = true;
        return false;
      }
      this.#break();
      return true;
    }
  }

  /** Hands the buffer to an async stream; true when it took it without asking to wait. */
  #streamWrite(): boolean {
    try {
      const more = this.#stream.write(this.#takeBatch());
      if (!more) {
        this.#waitingDrain = true;
        this.#stream.once('drain', () => {
          this.#waitingDrain = false;
          this.#flush();
        });
      }
    } catch {
      this.#break();
    }
    return true;
  }

  #break(): void {
    this.#broken = true;
    this.#buf = '';
    this.#rest = undefined;
    this.#clearTimer();
    pending.delete(this);
  }
}
