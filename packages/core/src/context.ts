import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
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
  /** `<service>.<method>.<uuid>`, Nameko's call id */
  readonly callId: string;
  /** the caller's stack plus this call's id */
  readonly callIdStack: string[];
  /** user context data (Nameko's `context_data`: language, user_id, auth_token...) */
  readonly data: Record<string, unknown>;
  readonly startedAt = Date.now();

  constructor(init: {
    service: string;
    method: string;
    kind: EntrypointKind;
    headers?: Partial<CallHeaders>;
  }) {
    this.service = init.service;
    this.method = init.method;
    this.kind = init.kind;
    this.traceId = init.headers?.traceId || newTraceId();
    this.callId = `${init.service}.${init.method}.${randomUUID()}`;
    const parent = Array.isArray(init.headers?.callIdStack)
      ? init.headers.callIdStack.map(String)
      : [];
    this.callIdStack = [...parent, this.callId].slice(-MAX_CALL_ID_STACK);
    this.data = { ...init.headers?.data };
  }

  /** The headers of a call or event made from inside this worker. */
  outgoing(): CallHeaders {
    return { traceId: this.traceId, callIdStack: this.callIdStack, data: this.data };
  }
}

/** A new trace id: 32 hex characters, as lymph's. */
export function newTraceId(): string {
  // randomUUID draws from a cached pool of entropy; randomBytes(16) asked
  // the system for fresh bytes on every call and was a tenth of a client's
  // CPU time at high call rates. 32 hex characters either way (122 random bits).
  return randomUUID().replaceAll('-', '');
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
 */
export function outgoingHeaders(fallbackCaller: string): CallHeaders {
  const ctx = storage.getStore();
  if (ctx) return ctx.outgoing();
  return {
    traceId: newTraceId(),
    callIdStack: [`${fallbackCaller}.call.${randomUUID()}`],
    data: {},
  };
}
