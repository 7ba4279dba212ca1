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
}

/** A call started now and awaited later, or never (lymph's `defer`, Nameko's `call_async`). */
export interface DeferredCall<T = unknown> {
  /** resolves with the result, rejects with the call's error */
  result(): Promise<T>;
}

export interface RpcMethod {
  (params?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  /** Starts the call and returns at once; an ignored failure is logged, never thrown. */
  defer(params?: Record<string, unknown>, options?: CallOptions): DeferredCall;
}
export type ServiceProxy = Record<string, RpcMethod>;
/** `rpc.Greeting.greet({ name })`: a proxy for every service of the cluster. */
export type RpcProxies = Record<string, ServiceProxy>;

export interface EmitOptions extends PublishOptions {
  /** source service name (default: the emitting service, or the client's name) */
  source?: string;
}

/** The calling surface a service object uses; the test kit's fake implements it too. */
export interface Calls {
  call(service: string, method: string, params?: unknown, options?: CallOptions): Promise<unknown>;
  emit(type: string, body?: unknown, options?: EmitOptions): Promise<void>;
  readonly rpc: RpcProxies;
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
  #proxies: RpcProxies | undefined;

  constructor(
    backends: Backends,
    options: { name: string; timeout?: number; onDeferredError?: (err: unknown) => void },
  ) {
    this.#backends = backends;
    this.#name = options.name;
    this.#timeout = options.timeout ?? 5000;
    this.#defaults = Object.freeze({ timeout: this.#timeout });
    this.#onDeferredError = options.onDeferredError ?? (() => {});
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
    const request = { service, method, params, headers: outgoingHeaders(this.#name) };
    let response: Promise<RpcResponse>;
    try {
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

  /** Emits an event; resolves once the backend has accepted it. */
  async emit(type: string, body: unknown = {}, options: EmitOptions = {}): Promise<void> {
    if (typeof type !== 'string' || type === '') throw new UsageError('emit needs an event type');
    const ctx = currentContext();
    const source = options.source ?? ctx?.service ?? this.#name;
    await this.#backends.events.publish(
      { id: randomUUID(), type, source, body, headers: outgoingHeaders(this.#name) },
      options.delay === undefined ? {} : { delay: options.delay },
    );
  }

  /** The `rpc` proxies: `rpc.Greeting.greet({ name })`, `rpc.Greeting.greet.defer({ name })`. */
  get rpc(): RpcProxies {
    this.#proxies ??= makeProxies((service, method) => this.#method(service, method));
    return this.#proxies;
  }

  #method(service: string, method: string): RpcMethod {
    const fn = ((params?: Record<string, unknown>, options?: CallOptions) =>
      this.call(service, method, params ?? {}, options)) as RpcMethod;
    fn.defer = (params, options) => {
      const promise = this.call(service, method, params ?? {}, options);
      promise.catch(this.#onDeferredError);
      return { result: () => promise };
    };
    return fn;
  }
}

function resultOf(response: RpcResponse): unknown {
  if (response.ok) return response.result;
  throw fromWireError(response.error);
}

/** Property access builds proxies lazily; `then` is absent so that a proxy is never mistaken for a promise. */
export function makeProxies(method: (service: string, method: string) => RpcMethod): RpcProxies {
  const services = new Map<string, ServiceProxy>();
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
