// The types of typed calls: what a caller sees of another service, computed
// from that service's class alone (a type-only import), so that nothing of
// the callee's code runs or ships in the caller.
import type { CallOptions, DeferredCall, RpcStream } from './client.js';
import type { Service } from './service.js';

/**
 * The key under which a service class declares its RPC interface, the
 * methods other services may call:
 *
 *   declare [RPC]: 'greet' | 'greet_all';
 *   declare [RPC]: 'greet' | { say_hello: 'hello' };   // @rpc({ name: 'say_hello' }) hello()
 *
 * A type only (`declare` emits nothing). `@rpc` fails to compile on a
 * method it does not list, `@event`, `@timer` and `@http` on a method it
 * does: decorators cannot change a class's type, so this is where the
 * class says it, and the compiler holds both sides to it.
 */
export const RPC: unique symbol = Symbol.for('svc.rpc');

/** Where a service's type argument (the services it calls) is kept, for the test kit's stubs. */
export const CALLS: unique symbol = Symbol.for('svc.calls');

/** What `[RPC]` may hold: RPC names that are also method names, and `{ rpcName: 'method' }` renames. */
export type RpcDeclaration = string | { readonly [rpcName: string]: string };

/** The RPC names a declaration lists. */
export type RpcNames<D> = D extends string ? D : D extends object ? keyof D & string : never;

/** The method that serves RPC name `N` in declaration `D`. */
export type MethodFor<D, N> = D extends string
  ? D extends N
    ? D
    : never
  : D extends { readonly [K in N & string]: infer M }
    ? M
    : never;

/** The parameter type of a method, `undefined` when it takes none. */
export type ParamsOf<F> = F extends (...args: infer A) => unknown
  ? A extends []
    ? undefined
    : A[0]
  : never;

/** The arguments of a typed call: the parameters object (optional when the method's is) and call options. */
export type CallArgs<P> = undefined extends P
  ? [params?: P, options?: CallOptions]
  : [params: P, options?: CallOptions];

/**
 * One remote method, typed: `proxy.greet({ name })` resolves with what
 * `greet` returns (after the wire's serializer), `proxy.greet.defer(...)`
 * starts the call and returns a {@link DeferredCall} of it.
 */
export interface TypedRpcMethod<P, R> {
  (...args: CallArgs<P>): Promise<R>;
  /** Starts the call and returns at once; an ignored failure is logged, never thrown. */
  defer(...args: CallArgs<P>): DeferredCall<R>;
}

/**
 * One streaming remote method (an `async *` method), typed:
 * `for await (const n of proxy.numbers.stream({ n: 3 }))` reads what
 * `numbers` yields, as it comes. It has no call signature: a stream is
 * read, not awaited.
 */
export interface TypedStreamMethod<P, T> {
  /** Reads the method's items as they come (the call starts with the reading). */
  stream(...args: CallArgs<P>): RpcStream<T>;
}

type MethodProxy<F> = F extends (...args: never[]) => infer R
  ? [R] extends [AsyncIterable<infer T>]
    ? TypedStreamMethod<ParamsOf<F>, T>
    : TypedRpcMethod<ParamsOf<F>, Awaited<R>>
  : never;

/**
 * The proxy of a service: its RPC methods, each with the parameter and
 * result types of the method behind it. `S` is a service class's instance
 * type (`import type { Greeting } from './greeting.js'`): only what its
 * `[RPC]` declaration lists is callable. Any other object type (an
 * interface written for a Nameko service, say) is taken as it is: each of
 * its methods is callable.
 */
export type ServiceProxy<S> = S extends { readonly [RPC]: infer D }
  ? {
      readonly [N in RpcNames<D>]: MethodFor<D, N> extends keyof S
        ? MethodProxy<S[MethodFor<D, N>]>
        : never;
    }
  : S extends Service
    ? { readonly 'this service declares no [RPC] interface': never }
    : {
        readonly [
          K in keyof S as S[K] extends (...args: never[]) => unknown ? K : never
        ]: MethodProxy<S[K]>;
      };

/**
 * Proxies of the services in map `M` (service name → its class's instance
 * type): `this.rpc.Greeting.greet({ name })`. A name not in the map does
 * not compile; calls by names known only at run time go through
 * `call(service, method, params)`.
 */
export type RpcProxies<M> = { readonly [K in keyof M & string]: ServiceProxy<M[K]> };

/** The services a service calls, from the type argument of its base class. */
export type CallsOf<S> = S extends { readonly [CALLS]?: infer M } ? NonNullable<M> : never;

/**
 * Test stand-ins for the services a service calls: each a function of the
 * method's parameters returning its result (or a promise of it), or for a
 * streaming method its items (an iterable or async iterable).
 */
export type RpcStubs<M> = {
  readonly [K in keyof M & string]?: {
    readonly [N in keyof ServiceProxy<M[K]>]?: ServiceProxy<M[K]>[N] extends TypedRpcMethod<
      infer P,
      infer R
    >
      ? (params: P) => R | Promise<R>
      : ServiceProxy<M[K]>[N] extends TypedStreamMethod<infer P, infer T>
        ? (params: P) => AsyncIterable<T> | Iterable<T>
        : never;
  };
};
