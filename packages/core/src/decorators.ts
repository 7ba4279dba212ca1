import {
  compileParams,
  type CompiledParams,
  type ParamsInput,
  type ParamsOutput,
  type ParamsSchema,
} from './params.js';
import type { MethodFor, ParamsOf, RPC } from './typed.js';

/** An error class that an entrypoint declares as expected: logged as a warning, not an error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

export interface RpcOptions<N extends string = string, P extends ParamsSchema = ParamsSchema> {
  /** exposed name (default: the method's name); the class's `[RPC]` maps it to the method */
  name?: N;
  /** description shown by `svc inspect` (default: the method's doc comment) */
  doc?: string;
  /**
   * parameter schema, a `t` shape or any Standard Schema (zod, valibot,
   * arktype): bad parameters get a ValidationError before the method runs.
   * Its type must be the method's parameter type.
   */
  params?: P;
  /** errors that are part of the method's contract */
  expected?: ErrorClass[];
  /**
   * parameters whose values never appear in logs, spans, plugin hooks or
   * error reports (Nameko's `sensitive_arguments`): names or dotted paths
   * (`'password'`, `'card.number'`), shown as `********`
   */
  sensitive?: readonly string[];
  /**
   * The method is safe to run twice with the same parameters (it reads, or
   * sets rather than adds): a call cut by the death of its instance is then
   * sent again to another one within its deadline, on `net` and `zmq`.
   * Otherwise such a call fails with ConnectionLostError (at most once).
   * Shown by `svc inspect`; callers learn it from the registry.
   */
  idempotent?: boolean;
}

/** How a failing event handler is retried before the event is given up (dead-lettered or dropped). */
export interface RetryPolicy {
  /** total tries, the first included (1 = no retry) */
  attempts: number;
  /** milliseconds before the first retry, at most (each wait is up to a fifth shorter at random, so retries of many events spread out) */
  delay: number;
  /** each further wait is multiplied by this (default 2) */
  backoff?: number;
  /** upper bound of one wait (default 30 s) */
  maxDelay?: number;
}

export interface EventOptions {
  /** only events emitted by this service (Nameko's `event_handler(source, type)`); default: any source */
  source?: string;
  /** every instance handles each event (default: one instance of the service) */
  broadcast?: boolean;
  /** one handler in the whole cluster handles each event (Nameko's SINGLETON) */
  singleton?: boolean;
  retry?: RetryPolicy;
  doc?: string;
  expected?: ErrorClass[];
}

export interface TimerOptions {
  /** run once at start, then every interval (default: first run after one interval) */
  eager?: boolean;
  doc?: string;
  expected?: ErrorClass[];
}

export interface HttpOptions {
  doc?: string;
  expected?: ErrorClass[];
}

export type EntrypointMeta =
  | {
      kind: 'rpc';
      method: string;
      name: string;
      options: RpcOptions;
      /** the params schema, compiled once when the class was defined */
      params?: CompiledParams;
      /** an `async *` method: its items are streamed to the caller */
      stream?: boolean;
    }
  | { kind: 'event'; method: string; type: string; options: EventOptions }
  | { kind: 'timer'; method: string; interval: number; options: TimerOptions }
  | { kind: 'http'; method: string; verb: string; path: string; options: HttpOptions };

/** Where decorators record entrypoints: on the method function itself. */
export const ENTRYPOINTS = Symbol.for('svc.entrypoints');

type Method = ((...args: never[]) => unknown) & { [ENTRYPOINTS]?: EntrypointMeta[] };

// What the decorators' types check, at compile time, of the method they
// decorate. A failed check is an object type whose one property is the
// message: the compiler shows it in the error on the decorator.
type Problem<M extends string> = { readonly [K in M]: never };

/** The methods that a class's `[RPC]` declaration lists. */
type ListedMethods<D> = D extends string ? D : D extends object ? D[keyof D] : never;

type RpcListed<This, N extends string, K extends string> = This extends {
  readonly [RPC]: infer D;
}
  ? [MethodFor<D, N>] extends [never]
    ? NotInRpc<N, K>
    : [MethodFor<D, N>] extends [K]
      ? unknown
      : NotInRpc<N, K>
  : Problem<`declare [RPC]: '${K}' in the class to make '${K}' callable`>;

type NotInRpc<N extends string, K extends string> = N extends K
  ? Problem<`list '${K}' in the class's declare [RPC]`>
  : Problem<`list { ${N}: '${K}' } in the class's declare [RPC]`>;

type NotListed<This, K extends string, What extends string> = This extends {
  readonly [RPC]: infer D;
}
  ? K extends ListedMethods<D>
    ? Problem<`'${K}' is ${What}, not an RPC method: take it out of the class's [RPC]`>
    : unknown
  : unknown;

type SchemaFits<V, P> = [P] extends [never]
  ? unknown
  : [ParamsOutput<P>] extends [ParamsOf<V>]
    ? [Exclude<ParamsOf<V>, undefined>] extends [ParamsInput<P>]
      ? unknown
      : Problem<"the params schema rejects values of the method's parameter type">
    : Problem<"the params schema's type is not the method's parameter type">;

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- the decorator context's own constraint
type AnyMethod<This> = (this: This, ...args: any) => unknown;

/** `@rpc()`'s decorator: checks the method is in `[RPC]`, takes one parameters object, and agrees with its schema. */
export type RpcDecorator<N extends string, P> = <
  This,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any parameter type, at most one parameter
  V extends (this: This, params?: any) => unknown,
  K extends string,
>(
  value: V,
  context: ClassMethodDecoratorContext<This, V> & { readonly name: K } & RpcListed<
      This,
      [N] extends [never] ? K : N,
      K
    > &
    SchemaFits<V, P>,
) => void;

/** The decorator of `@event`, `@timer` and `@http`: checks the method is not in `[RPC]`. */
export type EntrypointDecorator<What extends string> = <
  This,
  V extends AnyMethod<This>,
  K extends string,
>(
  value: V,
  context: ClassMethodDecoratorContext<This, V> & { readonly name: K } & NotListed<This, K, What>,
) => void;

function record(
  what: string,
  make: (method: string, value: Method) => EntrypointMeta,
): (value: Method, context: ClassMethodDecoratorContext) => void {
  return (value, context) => {
    if (context.kind !== 'method' || context.static || context.private) {
      throw new TypeError(
        `@${what} applies to public instance methods only (on ${String(context.name)})`,
      );
    }
    const list = (value[ENTRYPOINTS] ??= []);
    list.push(make(String(context.name), value));
  };
}

const AsyncGeneratorFunction = Object.getPrototypeOf(async function* () {}) as object;

/** Whether a method is `async *`: what it yields is streamed. */
function isAsyncGeneratorFunction(fn: Method): boolean {
  return Object.getPrototypeOf(fn) === AsyncGeneratorFunction;
}

/**
 * Exposes a method over RPC. It takes one parameters object; the class
 * lists it in `declare [RPC]` (its RPC name, or `{ name: 'method' }`).
 */
export function rpc<const N extends string = never, P extends ParamsSchema = never>(
  options: RpcOptions<N, P> = {},
): RpcDecorator<N, P> {
  // Compiled here, once per method, not on every call.
  const params = options.params === undefined ? undefined : compileParams(options.params);
  return record('rpc', (method, value) => ({
    kind: 'rpc',
    method,
    name: options.name ?? method,
    options,
    ...(params ? { params } : {}),
    ...(isAsyncGeneratorFunction(value) ? { stream: true } : {}),
  })) as unknown as RpcDecorator<N, P>;
}

/** Handles events of `type`; singlecast by default, `broadcast` or `singleton` on request. */
export function event(
  type: string,
  options: EventOptions = {},
): EntrypointDecorator<'an event handler'> {
  if (typeof type !== 'string' || type === '') throw new TypeError('@event needs an event type');
  if (options.broadcast && options.singleton) {
    throw new TypeError(`@event('${type}'): broadcast and singleton exclude each other`);
  }
  return record('event', (method) => ({
    kind: 'event',
    method,
    type,
    options,
  })) as unknown as EntrypointDecorator<'an event handler'>;
}

/** Runs a method every `interval` milliseconds, never overlapping itself. */
export function timer(
  interval: number,
  options: TimerOptions = {},
): EntrypointDecorator<'a timer'> {
  if (!(interval > 0))
    throw new TypeError(`@timer needs a positive interval in ms, got ${interval}`);
  return record('timer', (method) => ({
    kind: 'timer',
    method,
    interval,
    options,
  })) as unknown as EntrypointDecorator<'a timer'>;
}

const VERBS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** Serves a method at an HTTP route: `@http('GET', '/get/:value')`. */
export function http(
  verb: string,
  path: string,
  options: HttpOptions = {},
): EntrypointDecorator<'an HTTP route'> {
  const upper = verb.toUpperCase();
  if (!VERBS.has(upper)) throw new TypeError(`@http: unknown method "${verb}"`);
  if (!path.startsWith('/')) throw new TypeError(`@http: path must start with "/", got "${path}"`);
  return record('http', (method) => ({
    kind: 'http',
    method,
    verb: upper,
    path,
    options,
  })) as unknown as EntrypointDecorator<'an HTTP route'>;
}

/** Every entrypoint of a class, its own and inherited, the most derived definition of a method winning. */
export function collectEntrypoints(
  cls: abstract new (...args: never[]) => unknown,
): EntrypointMeta[] {
  const seen = new Set<string>();
  const out: EntrypointMeta[] = [];
  for (
    let proto = cls.prototype as object | null;
    proto && proto !== Object.prototype;
    proto = Object.getPrototypeOf(proto) as object | null
  ) {
    for (const key of Object.getOwnPropertyNames(proto)) {
      if (key === 'constructor' || seen.has(key)) continue;
      seen.add(key);
      const desc = Object.getOwnPropertyDescriptor(proto, key);
      const fn = desc?.value as Method | undefined;
      if (typeof fn === 'function' && fn[ENTRYPOINTS]) out.push(...fn[ENTRYPOINTS]);
    }
  }
  return out;
}
