import { randomUUID } from 'node:crypto';
import type { Backends } from './backends.js';
import { CancelToken } from './cancel.js';
import type { CallHeaders } from './context-headers.js';
import { currentContext, outgoingHeaders, type WorkerContext } from './context.js';
import { UsageError, fromWireError } from './errors.js';
import type { PublishOptions } from './events/transport.js';
import { newSpanId } from './tracing/ids.js';
import { messagingAttributes, rpcAttributes } from './tracing/spans.js';
import type { ActiveSpan, SpanStart, SpanTracer } from './tracing/tracer.js';
import {
  STREAMS_NEED_DIRECT,
  type RpcCallOptions,
  type RpcRequest,
  type RpcResponse,
} from './rpc/transport.js';
import { makeProxies, type UntypedProxies } from './proxies.js';

export interface CallOptions {
  /**
   * milliseconds before RpcTimeoutError (default: the instance's
   * `rpc_timeout`, 5 s); inside a worker, never more than what remains of
   * the worker's own deadline. For a stream, the time the whole stream may
   * take.
   */
  timeout?: number;
  /**
   * Cancels the call: it rejects at once with the signal's reason, and on
   * `net` and `zmq` the server's worker sees its `context.signal` abort.
   * Inside a worker, the worker's own cancellation applies as well.
   */
  signal?: AbortSignal;
  /** send to this instance endpoint instead of choosing one */
  address?: string;
  /**
   * context data for this call, over the worker's (or the client's):
   * `{ language: 'en' }` arrives as the callee's `this.context.data.language`,
   * and at a Nameko service as the `nameko.language` header
   */
  context?: Record<string, unknown>;
}

/** A call started now and awaited later, or never (lymph's `defer`, Nameko's `call_async`). */
export interface DeferredCall<T = unknown> {
  /** resolves with the result, rejects with the call's error */
  result(): Promise<T>;
}

/**
 * The items of a streaming call (an `async *` RPC method), read with
 * `for await`. The call starts when the reading does; breaking off stops
 * the producer. When the stream has ended, the iterator's final result
 * (`done: true`) holds what the method returned.
 */
export type RpcStream<T = unknown> = AsyncIterableIterator<T, unknown>;

export interface EmitOptions extends PublishOptions {
  /** source service name (default: the emitting service, or the client's name) */
  source?: string;
  /** context data for this event, over the worker's (or the client's) */
  context?: Record<string, unknown>;
}

/** The calling surface a service object uses; the test kit's fake implements it too. */
export interface Calls {
  call(service: string, method: string, params?: unknown, options?: CallOptions): Promise<unknown>;
  defer(service: string, method: string, params?: unknown, options?: CallOptions): DeferredCall;
  stream(service: string, method: string, params?: unknown, options?: CallOptions): RpcStream;
  emit(type: string, body?: unknown, options?: EmitOptions): Promise<void>;
  /** untyped proxies making their calls through `call`, `defer` and `stream` */
  readonly proxies: UntypedProxies;
}

/**
 * Makes calls and emits events on behalf of a service or of a standalone
 * client. Headers come from the current worker when there is one, so
 * trace id, call-id stack and context data flow on, and so do its
 * deadline (a call waits no longer than the worker's caller does) and its
 * cancellation.
 */
export class Caller implements Calls {
  readonly #backends: Backends;
  readonly #name: string;
  readonly #timeout: number;
  readonly #defaults: RpcCallOptions;
  readonly #onDeferredError: (err: unknown) => void;
  readonly #context: Readonly<Record<string, unknown>> | undefined;
  readonly #tracer: SpanTracer | undefined;
  #proxies: UntypedProxies | undefined;

  constructor(
    backends: Backends,
    options: {
      name: string;
      timeout?: number;
      onDeferredError?: (err: unknown) => void;
      /** context data of every call and event made outside a worker */
      context?: Record<string, unknown>;
      /** records a client span for every call and a producer span for every emit */
      tracer?: SpanTracer;
    },
  ) {
    this.#tracer = options.tracer;
    this.#backends = backends;
    this.#name = options.name;
    this.#timeout = options.timeout ?? 5000;
    this.#defaults = Object.freeze({ timeout: this.#timeout });
    this.#onDeferredError = options.onDeferredError ?? (() => {});
    this.#context = options.context
      ? Object.freeze({ ...checkContext(options.context) })
      : undefined;
  }

  /**
   * Calls `service.method(params)` and resolves with its result or rejects
   * with its error. One `then`, not an async function: inside a worker every
   * promise pays for AsyncLocalStorage's hooks.
   */
  call(
    service: string,
    method: string,
    params: unknown = {},
    options?: CallOptions,
  ): Promise<unknown> {
    // As fetch does: a call whose signal has aborted rejects with the signal's reason.
    // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's own reason
    if (options?.signal?.aborted) return Promise.reject(options.signal.reason);
    let response: Promise<RpcResponse>;
    let unlink: (() => void) | undefined;
    let span: ActiveSpan | undefined;
    try {
      const ctx = currentContext();
      const request = this.#request(service, method, params, options, ctx);
      span = this.#clientSpan(request, ctx);
      const callOptions = this.#callOptions(service, method, options, ctx);
      unlink = callOptions.unlink;
      response = this.#backends.rpc.call(request, callOptions);
    } catch (err) {
      unlink?.();
      span?.end(err);
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (unlink === undefined && span === undefined) return response.then(resultOf);
    return response.then(
      (r) => {
        unlink?.();
        if (span) span.end(r.ok ? undefined : fromWireError(r.error));
        return resultOf(r);
      },
      (err: unknown) => {
        unlink?.();
        span?.end(err);
        throw err;
      },
    );
  }

  /**
   * The span id a call or event goes out with, which its receiver records
   * as its parent: a client or producer span of its own when spans are
   * recorded; else the calling worker's span, since a span nobody records
   * would leave the receiver's records pointing at nothing, where this
   * way a trace's log records make a tree (`svc tail --trace`). With spans
   * recorded, the worker lists the ids it sent in its own record instead
   * ({@link WorkerContext.sent}): nothing more goes on the wire.
   */
  #sendingSpan(ctx: WorkerContext | undefined): string {
    return this.#tracer || !ctx ? newSpanId() : ctx.spanId;
  }

  /**
   * The client span of a call, when spans are recorded; its flags go out with
   * the request, and the calling worker notes its id for its log record.
   */
  #clientSpan(request: RpcRequest, ctx: WorkerContext | undefined): ActiveSpan | undefined {
    const tracer = this.#tracer;
    if (!tracer) return undefined;
    const span = tracer.start(
      spanOf(request.headers, `${request.service}/${request.method}`, 'client', {
        ...rpcAttributes(request.service, request.method),
      }),
    );
    request.headers.traceFlags = span.traceFlags;
    ctx?.sent(request.headers.spanId!);
    return span;
  }

  #request(
    service: string,
    method: string,
    params: unknown,
    options: CallOptions | undefined,
    ctx: WorkerContext | undefined,
  ): RpcRequest {
    const extra = options?.context;
    return {
      service,
      method,
      params,
      headers: outgoingHeaders(
        this.#name,
        this.#context,
        extra && checkContext(extra),
        ctx,
        this.#sendingSpan(ctx),
      ),
    };
  }

  /**
   * The transport's options for a call: its timeout, never past the
   * worker's deadline, and what cancels it. The common call (no options,
   * outside a worker) shares one frozen object; `unlink` releases a
   * caller's AbortSignal once the call has settled.
   */
  #callOptions(
    service: string,
    method: string,
    options: CallOptions | undefined,
    ctx: WorkerContext | undefined,
  ): RpcCallOptions & { unlink?: () => void } {
    const signal = options?.signal;
    const deadline = ctx?.deadline;
    const cancel = ctx?.cancel;
    if (
      options?.timeout === undefined &&
      options?.address === undefined &&
      signal === undefined &&
      deadline === undefined &&
      cancel === undefined
    ) {
      return this.#defaults;
    }
    let timeout = options?.timeout ?? this.#timeout;
    if (deadline !== undefined) {
      const left = deadline - Date.now();
      if (left <= 0) throw ctx!.lateCallError(`${service}.${method}`);
      if (left < timeout) timeout = left;
    }
    const out: RpcCallOptions & { unlink?: () => void } = { timeout };
    if (options?.address !== undefined) out.address = options.address;
    if (signal === undefined) {
      if (cancel) out.cancel = cancel;
      return out;
    }
    const linked = CancelToken.linked(cancel ? [cancel, signal] : [signal]);
    out.cancel = linked.token;
    out.unlink = linked.unlink;
    return out;
  }

  /**
   * Reads the items of a streaming method (`async *`) as they come; the
   * call starts when the reading does. Over AMQP, and on any transport
   * that cannot stream, the first read fails with a UsageError.
   */
  stream(service: string, method: string, params: unknown = {}, options?: CallOptions): RpcStream {
    let items: AsyncIterator<unknown, unknown> | undefined;
    let unlink: (() => void) | undefined;
    let span: ActiveSpan | undefined;
    let over = false;
    const done = (error?: unknown) => {
      over = true;
      unlink?.();
      unlink = undefined;
      span?.end(error);
      span = undefined;
    };
    const open = (): AsyncIterator<unknown, unknown> => {
      const rpc = this.#backends.rpc;
      if (!rpc.stream) throw new UsageError(`${STREAMS_NEED_DIRECT}; this one is ${rpc.kind}`);
      const ctx = currentContext();
      const request = this.#request(service, method, params, options, ctx);
      span = this.#clientSpan(request, ctx);
      const callOptions = this.#callOptions(service, method, options, ctx);
      unlink = callOptions.unlink;
      return rpc.stream(request, callOptions);
    };
    const stream: RpcStream = {
      next: async () => {
        if (over) return { done: true, value: undefined };
        try {
          items ??= open();
          const next = await items.next();
          if (next.done) done();
          return next;
        } catch (err) {
          done(err);
          throw err;
        }
      },
      return: async (value?: unknown) => {
        if (!over) {
          done();
          await items?.return?.();
        }
        return { done: true, value };
      },
      [Symbol.asyncIterator]() {
        return stream;
      },
    };
    return stream;
  }

  /** Starts `service.method(params)` and returns at once; a failure nobody awaits is logged, never thrown. */
  defer(
    service: string,
    method: string,
    params: unknown = {},
    options?: CallOptions,
  ): DeferredCall {
    const promise = this.call(service, method, params, options);
    promise.catch(this.#onDeferredError);
    return { result: () => promise };
  }

  /** Emits an event; resolves once the backend has accepted it. */
  async emit(type: string, body: unknown = {}, options: EmitOptions = {}): Promise<void> {
    if (typeof type !== 'string' || type === '') throw new UsageError('emit needs an event type');
    const ctx = currentContext();
    const source = options.source ?? ctx?.service ?? this.#name;
    const extra = options.context && checkContext(options.context);
    const id = randomUUID();
    const headers = outgoingHeaders(this.#name, this.#context, extra, ctx, this.#sendingSpan(ctx));
    let span: ActiveSpan | undefined;
    if (this.#tracer) {
      const attributes = messagingAttributes(type, 'publish', id);
      attributes['svc.event.source'] = source;
      span = this.#tracer.start(spanOf(headers, `publish ${type}`, 'producer', attributes));
      headers.traceFlags = span.traceFlags;
      ctx?.sent(headers.spanId!);
    }
    try {
      await this.#backends.events.publish(
        { id, type, source, body, headers },
        options.delay === undefined ? {} : { delay: options.delay },
      );
    } catch (err) {
      span?.end(err);
      throw err;
    }
    span?.end();
  }

  /**
   * Untyped proxies, `proxies.Greeting.greet({ name })`, for names known
   * only at run time (a shell); typed ones are `rpc` of a service or client.
   */
  get proxies(): UntypedProxies {
    this.#proxies ??= makeProxies(this);
    return this.#proxies;
  }
}

/** The span that sends `headers`: their span id is its own, the current worker's its parent. */
function spanOf(
  headers: CallHeaders,
  name: string,
  kind: SpanStart['kind'],
  attributes: SpanStart['attributes'],
): SpanStart {
  return {
    traceId: headers.traceId,
    spanId: headers.spanId!,
    parentSpanId: currentContext()?.spanId,
    traceFlags: headers.traceFlags ?? 1,
    traceState: headers.traceState,
    name,
    kind,
    attributes,
  };
}

function resultOf(response: RpcResponse): unknown {
  if (response.ok) return response.result;
  throw fromWireError(response.error);
}

/** Context keys that name the headers svc sets itself. */
const RESERVED_CONTEXT = new Set(['trace_id', 'call_id_stack', '__proto__']);

/** Context data as given, or a UsageError naming a key that cannot be context data. */
export function checkContext(data: Record<string, unknown>): Record<string, unknown> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new UsageError('context must be an object of context data');
  }
  for (const key of Object.keys(data)) {
    if (RESERVED_CONTEXT.has(key) || key === '') {
      throw new UsageError(`"${key}" cannot be a context key: svc sets it itself`);
    }
  }
  return data;
}
