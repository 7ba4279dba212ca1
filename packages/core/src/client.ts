import { randomUUID } from 'node:crypto';
import type { Backends } from './backends.js';
import { currentContext, outgoingHeaders } from './context.js';
import { UsageError, fromWireError } from './errors.js';
import type { PublishOptions } from './events/transport.js';
import type { RpcCallOptions, RpcResponse } from './rpc/transport.js';

export interface CallOptions {
  /** milliseconds before RpcTimeoutError (default: the instance's `rpc_timeout`, 5 s) */
  timeout?: number;
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

/** A remote method reached by a name known only at run time. */
export interface RpcMethod {
  (params?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  /** Starts the call and returns at once; an ignored failure is logged, never thrown. */
  defer(params?: Record<string, unknown>, options?: CallOptions): DeferredCall;
}

/**
 * The untyped proxies behind every typed one: any service, any method.
 * Typed access goes through `RpcProxies<M>`; this is for tools whose
 * names come at run time (`svc shell`).
 */
export type UntypedProxies = {
  readonly [service: string]: { readonly [method: string]: RpcMethod };
};

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
  emit(type: string, body?: unknown, options?: EmitOptions): Promise<void>;
  /** untyped proxies making their calls through `call` and `defer` */
  readonly proxies: UntypedProxies;
}

/**
 * Makes calls and emits events on behalf of a service or of a standalone
 * client. Headers come from the current worker when there is one, so
 * trace id, call-id stack and context data flow on.
 */
export class Caller implements Calls {
  readonly #backends: Backends;
  readonly #name: string;
  readonly #timeout: number;
  readonly #defaults: RpcCallOptions;
  readonly #onDeferredError: (err: unknown) => void;
  readonly #context: Readonly<Record<string, unknown>> | undefined;
  #proxies: UntypedProxies | undefined;

  constructor(
    backends: Backends,
    options: {
      name: string;
      timeout?: number;
      onDeferredError?: (err: unknown) => void;
      /** context data of every call and event made outside a worker */
      context?: Record<string, unknown>;
    },
  ) {
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
    let response: Promise<RpcResponse>;
    try {
      const extra = options?.context;
      const request = {
        service,
        method,
        params,
        headers: outgoingHeaders(this.#name, this.#context, extra && checkContext(extra)),
      };
      response = this.#backends.rpc.call(request, this.#callOptions(options));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return response.then(resultOf);
  }

  /** The transport's options for a call; the common call without options shares one object. */
  #callOptions(options: CallOptions | undefined): RpcCallOptions {
    if (options?.timeout === undefined && options?.address === undefined) return this.#defaults;
    return options.address === undefined
      ? { timeout: options.timeout ?? this.#timeout }
      : { timeout: options.timeout ?? this.#timeout, address: options.address };
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
    await this.#backends.events.publish(
      {
        id: randomUUID(),
        type,
        source,
        body,
        headers: outgoingHeaders(this.#name, this.#context, extra),
      },
      options.delay === undefined ? {} : { delay: options.delay },
    );
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

/**
 * Untyped proxies making their calls through `calls`. Property access
 * builds them lazily; `then` is absent so that a proxy is never mistaken
 * for a promise.
 */
export function makeProxies(calls: Pick<Calls, 'call' | 'defer'>): UntypedProxies {
  const method = (service: string, name: string): RpcMethod => {
    const fn = ((params?: Record<string, unknown>, options?: CallOptions) =>
      calls.call(service, name, params ?? {}, options)) as RpcMethod;
    fn.defer = (params, options) => calls.defer(service, name, params ?? {}, options);
    return fn;
  };
  const services = new Map<string, Record<string, RpcMethod>>();
  return new Proxy(
    {},
    {
      get(_target, service) {
        if (typeof service !== 'string' || service === 'then') return undefined;
        let proxy = services.get(service);
        if (!proxy) {
          const methods = new Map<string, RpcMethod>();
          proxy = new Proxy(
            {},
            {
              get(_t, name) {
                if (typeof name !== 'string' || name === 'then') return undefined;
                let m = methods.get(name);
                if (!m) methods.set(name, (m = method(service, name)));
                return m;
              },
            },
          );
          services.set(service, proxy);
        }
        return proxy;
      },
    },
  );
}
