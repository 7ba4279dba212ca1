import { AsyncLocalStorage } from 'node:async_hooks';
import { randomFillSync, randomUUID } from 'node:crypto';
import type { CallHeaders } from './context-headers.js';

/** Nameko keeps the caller's stack plus its own entry, at most this many (parent_calls_tracked + 1). */
export const MAX_CALL_ID_STACK = 11;

export type EntrypointKind = 'rpc' | 'event' | 'timer' | 'http';

/**
 * What a worker knows about the call it runs: trace id, call-id stack and
 * context data, all forwarded on every RPC and event it makes.
 */
export class WorkerContext {
  readonly service: string;
  readonly method: string;
  readonly kind: EntrypointKind;
  readonly traceId: string;
  /** user context data (Nameko's `context_data`: language, user_id, auth_token...) */
  readonly data: Record<string, unknown>;
  readonly startedAt = Date.now();
  // The call id and the stack are made when first read: most workers make no
  // outgoing call, and a UUID and a copied stack on every call were a tenth
  // of the worker path.
  readonly #parent: readonly unknown[] | undefined;
  #callId: string | undefined;
  #callIdStack: string[] | undefined;

  constructor(init: {
    service: string;
    method: string;
    kind: EntrypointKind;
    headers?: Partial<CallHeaders>;
  }) {
    this.service = init.service;
    this.method = init.method;
    this.kind = init.kind;
    const headers = init.headers;
    this.traceId = headers?.traceId || newTraceId();
    this.#parent = Array.isArray(headers?.callIdStack) ? headers.callIdStack : undefined;
    this.data = headers?.data ? { ...headers.data } : {};
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

  /** The headers of a call or event made from inside this worker. */
  outgoing(): CallHeaders {
    return { traceId: this.traceId, callIdStack: this.callIdStack, data: this.data };
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
 * Headers for a call or event made now: the current worker's, or fresh ones
 * (a new trace) when made outside any worker (scripts, the shell, tests).
 * Context data is the client's `defaults` (outside a worker only), then the
 * worker's, then the call's own `extra`, later keys winning.
 */
export function outgoingHeaders(
  fallbackCaller: string,
  defaults?: Readonly<Record<string, unknown>>,
  extra?: Readonly<Record<string, unknown>>,
): CallHeaders {
  const ctx = storage.getStore();
  if (ctx) {
    const headers = ctx.outgoing();
    // The common call adds nothing: its headers are the worker's, not a copy.
    return extra ? { ...headers, data: { ...headers.data, ...extra } } : headers;
  }
  return {
    traceId: newTraceId(),
    callIdStack: [`${fallbackCaller}.call.${randomUUID()}`],
    data: defaults || extra ? { ...defaults, ...extra } : {},
  };
}
