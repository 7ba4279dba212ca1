import type { CallOptions, Calls, DeferredCall, RpcStream } from './client.js';

/** A remote method reached by a name known only at run time. */
export interface RpcMethod {
  (params?: Record<string, unknown>, options?: CallOptions): Promise<unknown>;
  /** Starts the call and returns at once; an ignored failure is logged, never thrown. */
  defer(params?: Record<string, unknown>, options?: CallOptions): DeferredCall;
  /** Reads a streaming method's items as they come. */
  stream(params?: Record<string, unknown>, options?: CallOptions): RpcStream;
}

/**
 * The untyped proxies behind every typed one: any service, any method.
 * Typed access goes through `RpcProxies<M>`; this is for tools whose
 * names come at run time (`svc shell`).
 */
export type UntypedProxies = {
  readonly [service: string]: { readonly [method: string]: RpcMethod };
};

/**
 * Untyped proxies making their calls through `calls`. Property access
 * builds them lazily; `then` is absent so that a proxy is never mistaken
 * for a promise.
 */
export function makeProxies(calls: Pick<Calls, 'call' | 'defer' | 'stream'>): UntypedProxies {
  const method = (service: string, name: string): RpcMethod => {
    const fn = ((params?: Record<string, unknown>, options?: CallOptions) =>
      calls.call(service, name, params ?? {}, options)) as RpcMethod;
    fn.defer = (params, options) => calls.defer(service, name, params ?? {}, options);
    fn.stream = (params, options) => calls.stream(service, name, params ?? {}, options);
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
