import type { ParamsSchema } from './schema.js';

/** An error class that an entrypoint declares as expected: logged as a warning, not an error. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type ErrorClass = abstract new (...args: any[]) => Error;

export interface RpcOptions {
  /** exposed name (default: the method's name) */
  name?: string;
  /** description shown by `svc inspect` (default: the method's doc comment) */
  doc?: string;
  /** parameter schema: bad parameters get a ValidationError before the method runs */
  params?: ParamsSchema;
  /** errors that are part of the method's contract */
  expected?: ErrorClass[];
}

/** How a failing event handler is retried before the event is given up (dead-lettered or dropped). */
export interface RetryPolicy {
  /** total tries, the first included (1 = no retry) */
  attempts: number;
  /** milliseconds before the first retry */
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
  | { kind: 'rpc'; method: string; name: string; options: RpcOptions }
  | { kind: 'event'; method: string; type: string; options: EventOptions }
  | { kind: 'timer'; method: string; interval: number; options: TimerOptions }
  | { kind: 'http'; method: string; verb: string; path: string; options: HttpOptions };

/** Where decorators record entrypoints: on the method function itself. */
export const ENTRYPOINTS = Symbol.for('svc.entrypoints');

type Method = ((...args: never[]) => unknown) & { [ENTRYPOINTS]?: EntrypointMeta[] };

function record(
  what: string,
  make: (method: string) => EntrypointMeta,
): (value: Method, context: ClassMethodDecoratorContext) => void {
  return (value, context) => {
    if (context.kind !== 'method' || context.static || context.private) {
      throw new TypeError(
        `@${what} applies to public instance methods only (on ${String(context.name)})`,
      );
    }
    const list = (value[ENTRYPOINTS] ??= []);
    list.push(make(String(context.name)));
  };
}

/** Exposes a method over RPC. It takes one parameters object. */
export function rpc(options: RpcOptions = {}) {
  return record('rpc', (method) => ({
    kind: 'rpc',
    method,
    name: options.name ?? method,
    options,
  }));
}

/** Handles events of `type`; singlecast by default, `broadcast` or `singleton` on request. */
export function event(type: string, options: EventOptions = {}) {
  if (typeof type !== 'string' || type === '') throw new TypeError('@event needs an event type');
  if (options.broadcast && options.singleton) {
    throw new TypeError(`@event('${type}'): broadcast and singleton exclude each other`);
  }
  return record('event', (method) => ({ kind: 'event', method, type, options }));
}

/** Runs a method every `interval` milliseconds, never overlapping itself. */
export function timer(interval: number, options: TimerOptions = {}) {
  if (!(interval > 0))
    throw new TypeError(`@timer needs a positive interval in ms, got ${interval}`);
  return record('timer', (method) => ({ kind: 'timer', method, interval, options }));
}

const VERBS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']);

/** Serves a method at an HTTP route: `@http('GET', '/get/:value')`. */
export function http(verb: string, path: string, options: HttpOptions = {}) {
  const upper = verb.toUpperCase();
  if (!VERBS.has(upper)) throw new TypeError(`@http: unknown method "${verb}"`);
  if (!path.startsWith('/')) throw new TypeError(`@http: path must start with "/", got "${path}"`);
  return record('http', (method) => ({ kind: 'http', method, verb: upper, path, options }));
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
