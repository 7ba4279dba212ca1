import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync, randomUUID } from 'node:crypto';
import type { CancelToken } from './cancel.js';
import type { CallHeaders } from './context-headers.js';
import { DeadlineExceededError } from './errors.js';
import { checkTracestate, isSpanId, newSpanId, SAMPLED } from './tracing/ids.js';
import type { ActiveSpan } from './tracing/tracer.js';

/** Nameko keeps the caller's stack plus its own entry, at most this many (parent_calls_tracked + 1). */
export const MAX_CALL_ID_STACK = 11;

/**
 * A worker's record lists the span ids of at most this many of the calls
 * and events it sent (19 bytes each in its JSON line): a record past the log
 * stream's 64 KiB is cut down to its standard fields.
 */
export const MAX_SENT_SPAN_IDS = 256;

export type EntrypointKind = 'rpc' | 'event' | 'timer' | 'http';

/**
 * What a worker knows about the call it runs: trace id, its own span id and
 * its parent's, call-id stack and context data, all forwarded on every RPC
 * and event it makes; and, for an RPC call, its deadline and what cancels
 * it, which its own calls inherit.
 */
export class WorkerContext {
  readonly service: string;
  readonly method: string;
  readonly kind: EntrypointKind;
  readonly traceId: string;
  /** this worker's span: 16 hex characters (W3C Trace Context's parent-id of its own calls' spans) */
  readonly spanId: string;
  /** the span that sent the call, event or request this worker runs (undefined at a trace's root) */
  readonly parentSpanId: string | undefined;
  /** W3C trace flags: bit 0 says the trace is sampled (recorded by an exporter) */
  traceFlags: number;
  /** W3C `tracestate` as received, passed on unchanged */
  readonly traceState: string | undefined;
  /** the span an exporter records for this worker, when tracing export is on */
  span: ActiveSpan | undefined;
  /**
   * With export on, the span ids of the calls and events this worker sent
   * (their client and producer spans, the first {@link MAX_SENT_SPAN_IDS}),
   * which their receivers name as parents; its log record lists them, so
   * that the records of a trace make a tree (`svc tail --trace`) with no
   * record of those spans. Undefined until it sends one, and always with
   * export off: its calls go out with its own span id then.
   */
  sentSpanIds: string[] | undefined;
  /** user context data (Nameko's `context_data`: language, user_id, auth_token...) */
  readonly data: Record<string, unknown>;
  readonly startedAt = Date.now();
  /**
   * When the caller stops waiting (milliseconds since the epoch, this
   * machine's clock): calls made from the worker wait no longer than that,
   * and `signal` aborts then. Undefined when nobody waits with a deadline
   * (events, timers, HTTP, a Nameko caller).
   */
  readonly deadline: number | undefined;
  /** what cancels the call this worker runs; its outgoing calls are cancelled with it */
  readonly cancel: CancelToken | undefined;
  // The call id and the stack are made when first read: most workers make no
  // outgoing call, and a UUID and a copied stack on every call were a tenth
  // of the worker path.
  readonly #parent: readonly unknown[] | undefined;
  #callId: string | undefined;
  #callIdStack: string[] | undefined;
  // The signal, too, is made when first read: an AbortController costs
  // microseconds, more than a small worker.
  #controller: AbortController | undefined;
  #timer: NodeJS.Timeout | undefined;
  #unlink: (() => void) | undefined;
  #args: (() => unknown) | undefined;
  #redacted: unknown;

  constructor(init: {
    service: string;
    method: string;
    kind: EntrypointKind;
    headers?: Partial<CallHeaders>;
    /** milliseconds left until the caller's deadline, from now */
    timeout?: number;
    cancel?: CancelToken;
    /** the worker's span id when already chosen (the HTTP server sent it in `traceparent`) */
    spanId?: string;
    /** the redacted form of the worker's arguments, made when first read */
    args?: () => unknown;
  }) {
    this.service = init.service;
    this.method = init.method;
    this.kind = init.kind;
    const headers = init.headers;
    this.traceId = headers?.traceId || newTraceId();
    this.spanId = init.spanId ?? newSpanId();
    // Headers come from peers: a malformed parent or state is dropped, never trusted.
    this.parentSpanId = isSpanId(headers?.spanId) ? headers.spanId : undefined;
    const flags = headers?.traceFlags;
    this.traceFlags =
      typeof flags === 'number' && Number.isInteger(flags) && flags >= 0 && flags <= 255
        ? flags
        : SAMPLED;
    this.traceState = checkTracestate(headers?.traceState);
    this.span = undefined;
    this.sentSpanIds = undefined;
    this.#args = init.args;
    this.#parent = Array.isArray(headers?.callIdStack) ? headers.callIdStack : undefined;
    this.data = headers?.data ? { ...headers.data } : {};
    this.deadline = init.timeout === undefined ? undefined : this.startedAt + init.timeout;
    this.cancel = init.cancel;
  }

  /**
   * Aborts when the worker should stop: at its deadline (with a
   * DeadlineExceededError), or when its caller cancels the call or goes
   * away (with a CancelledError). A method that may run long passes it on
   * (`fetch(url, { signal })`) or checks it; calls made through `this.rpc`
   * get it without being told. It never aborts for an event, a timer or
   * an HTTP request.
   */
  get signal(): AbortSignal {
    if (this.#controller) return this.#controller.signal;
    const controller = new AbortController();
    this.#controller = controller;
    const cancel = this.cancel;
    if (cancel) this.#unlink = cancel.onAbort((reason) => this.#abort(reason));
    const deadline = this.deadline;
    if (deadline !== undefined && !controller.signal.aborted) {
      const left = deadline - Date.now();
      const expire = () => this.#abort(this.#deadlineError());
      if (left <= 0) expire();
      else {
        this.#timer = setTimeout(expire, left);
        this.#timer.unref();
      }
    }
    return controller.signal;
  }

  /** The error of a call made from this worker after its deadline. */
  lateCallError(what: string): DeadlineExceededError {
    return new DeadlineExceededError(
      `${this.service}.${this.method}'s deadline passed before it called ${what}`,
    );
  }

  /** The worker ended: its signal's timer and links are released (the signal stays as it is). */
  end(): void {
    if (this.#controller === undefined) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unlink?.();
    this.#unlink = undefined;
  }

  #abort(reason: unknown): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#controller?.abort(reason);
  }

  #deadlineError(): DeadlineExceededError {
    return new DeadlineExceededError(`${this.service}.${this.method}'s deadline passed`);
  }

  /**
   * The call's arguments as plugins, logs and spans may see them: an RPC
   * method's parameters, an event's body, with the values the method
   * declares `sensitive` replaced by `********`. Undefined for timers and
   * HTTP requests.
   */
  get args(): unknown {
    if (this.#args !== undefined) {
      this.#redacted = this.#args();
      this.#args = undefined;
    }
    return this.#redacted;
  }

  /** `<service>.<method>.<uuid>`, Nameko's call id */
  get callId(): string {
    return (this.#callId ??= `${this.service}.${this.method}.${randomUUID()}`);
  }

  /** the caller's stack plus this call's id */
  get callIdStack(): string[] {
    if (this.#callIdStack === undefined) {
      const parent = this.#parent ? this.#parent.map(String) : [];
      parent.push(this.callId);
      this.#callIdStack = parent.slice(-MAX_CALL_ID_STACK);
    }
    return this.#callIdStack;
  }

  /** Notes that a call or event went out from this worker by the span `spanId` (its client or producer span). */
  sent(spanId: string): void {
    const ids = (this.sentSpanIds ??= []);
    if (ids.length < MAX_SENT_SPAN_IDS) ids.push(spanId);
  }

  /** The headers of a call or event made from inside this worker, by the span `spanId` (the call's own). */
  outgoing(spanId: string = this.spanId): CallHeaders {
    const headers: CallHeaders = {
      traceId: this.traceId,
      callIdStack: this.callIdStack,
      data: this.data,
      spanId,
      traceFlags: this.traceFlags,
    };
    if (this.traceState !== undefined) headers.traceState = this.traceState;
    return headers;
  }
}

// Trace ids are drawn from a pool of random bytes refilled 256 ids at a time:
// `randomUUID().replaceAll('-', '')` cost about seven times as much (two
// strings per id), and every HTTP request and client call makes one.
const TRACE_ID_BYTES = 16;
const tracePool = Buffer.allocUnsafe(TRACE_ID_BYTES * 256);
let traceOffset = tracePool.length;

/** A new trace id: 32 hex characters (128 random bits), as lymph's. */
export function newTraceId(): string {
  if (traceOffset === tracePool.length) {
    randomFillSync(tracePool);
    traceOffset = 0;
  }
  const id = tracePool.toString('hex', traceOffset, traceOffset + TRACE_ID_BYTES);
  traceOffset += TRACE_ID_BYTES;
  return id;
}

const storage = new AsyncLocalStorage<WorkerContext>();

/** Runs `fn` with `ctx` as the current worker context. */
export function runInContext<T>(ctx: WorkerContext, fn: () => T): T {
  return storage.run(ctx, fn);
}

/** The worker context of the code running now, if it runs inside a worker. */
export function currentContext(): WorkerContext | undefined {
  return storage.getStore();
}

/**
 * Headers for a call or event made now by the span `spanId` (the call's
 * client span, the event's producer span): the current worker's trace, or a
 * fresh one when made outside any worker (scripts, the shell, tests).
 * Context data is the client's `defaults` (outside a worker only), then the
 * worker's, then the call's own `extra`, later keys winning.
 */
export function outgoingHeaders(
  fallbackCaller: string,
  defaults?: Readonly<Record<string, unknown>>,
  extra?: Readonly<Record<string, unknown>>,
  ctx: WorkerContext | undefined = storage.getStore(),
  spanId: string = newSpanId(),
): CallHeaders {
  if (ctx) {
    const headers = ctx.outgoing(spanId);
    if (extra) headers.data = { ...headers.data, ...extra };
    return headers;
  }
  const traceId = newTraceId();
  return {
    traceId,
    // A call made outside any worker starts a trace of its own: its 128 random
    // bits name the call too (a random UUID each was most of what a client spent in node:crypto).
    callIdStack: [`${fallbackCaller}.call.${traceId}`],
    data: defaults || extra ? { ...defaults, ...extra } : {},
    spanId,
    traceFlags: SAMPLED,
  };
}
