import type { CallOptions, Calls, DeferredCall, EmitOptions } from './client.js';
import type { ConfigView } from './config/view.js';
import { currentContext, type WorkerContext } from './context.js';
import { UsageError } from './errors.js';
import type { Logger } from './log/logger.js';
import type { Metrics } from './metrics.js';
import { CALLS, type RpcProxies } from './typed.js';

/** What the container gives each service object it creates. */
export interface ServiceBinding {
  readonly serviceName: string;
  readonly log: Logger;
  readonly caller: Calls;
  readonly config: ConfigView;
  readonly metrics: Metrics;
  /** emits started by a worker and not awaited: the worker waits for them before it ends */
  track(promise: Promise<unknown>): void;
}

export const BINDING = Symbol.for('svc.binding');

/**
 * The base class of every service. Subclasses set `static serviceName`,
 * declare their RPC interface (`declare [RPC]: 'greet'`) and mark methods
 * with `@rpc()`, `@event()`, `@timer()` and `@http()`; the container
 * creates one object per worker (and one for `onStart`/`onStop`).
 *
 * The type argument names the services this one calls, by a type-only
 * import of their classes: `class Web extends Service<{ Greeting: Greeting }>`
 * makes `this.rpc.Greeting.greet({ name })` typed.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a service that calls no other
export abstract class Service<Calls extends object = {}> {
  /** the name the service registers and is called by */
  static serviceName: string;
  /** at most this many workers of this service run at once (default: the instance's `max_workers`) */
  static maxWorkers?: number;

  declare [BINDING]?: ServiceBinding;
  /** the services this one calls (a type only) */
  declare readonly [CALLS]?: Calls;

  /** Called once the container has started its dependencies, before entrypoints run. */
  onStart?(): void | Promise<void>;
  /** Called when the container stops, after running workers have finished. */
  onStop?(): void | Promise<void>;

  /** The instance's logger; records made in a worker carry its trace id. */
  get log(): Logger {
    return binding(this, 'log').log;
  }

  /**
   * Typed proxies of the services named in the class's type argument:
   * `await this.rpc.Greeting.greet({ name })`, `this.rpc.Greeting.greet.defer(...)`.
   */
  get rpc(): RpcProxies<Calls> {
    return binding(this, 'rpc').caller.proxies as RpcProxies<Calls>;
  }

  /** The service's config (`interfaces.<Name>` section, then the whole file). */
  get config(): ConfigView {
    return binding(this, 'config').config;
  }

  /**
   * The instance's metrics, where a service adds its own:
   * `this.metrics.counter('orders', 'Orders placed').inc()`, `gauge`,
   * `histogram`; reported by `svc.get_metrics()` and on /metrics.
   */
  get metrics(): Metrics {
    return binding(this, 'metrics').metrics;
  }

  /** The running worker's context (trace id, call-id stack, context data). */
  get context(): WorkerContext | undefined {
    return currentContext();
  }

  /**
   * Emits an event with this service as its source. The returned promise
   * resolves when the backend accepted the event; a worker also waits for
   * emits it did not await before it answers, so an RPC reply means its
   * events were accepted.
   */
  emit(type: string, body: unknown = {}, options: EmitOptions = {}): Promise<void> {
    const b = binding(this, 'emit');
    const promise = b.caller.emit(type, body, { source: b.serviceName, ...options });
    b.track(promise);
    return promise;
  }

  /** Calls another service's method by name, untyped (for names only known at run time). */
  call(
    service: string,
    method: string,
    params?: Record<string, unknown>,
    options?: CallOptions,
  ): Promise<unknown> {
    return binding(this, 'call').caller.call(service, method, params ?? {}, options);
  }

  /** Starts a call by name, untyped, whose result may be awaited later or ignored. */
  defer(
    service: string,
    method: string,
    params?: Record<string, unknown>,
    options?: CallOptions,
  ): DeferredCall {
    return binding(this, 'defer').caller.defer(service, method, params ?? {}, options);
  }
}

function binding(service: Service, what: string): ServiceBinding {
  const b = service[BINDING];
  if (!b) {
    throw new UsageError(
      `this.${what} is available inside entrypoints and onStart/onStop, not in a constructor or a detached object`,
    );
  }
  return b;
}

export type ServiceClass<S extends Service = Service> = (new () => S) & {
  serviceName: string;
  maxWorkers?: number;
};

/** The service name of a class, checked. */
export function serviceNameOf(cls: ServiceClass): string {
  const name = cls.serviceName;
  if (typeof name !== 'string' || !/^[A-Za-z][\w-]*$/.test(name)) {
    throw new UsageError(
      `service class ${cls.name || '(anonymous)'} needs "static override serviceName = 'Name'" (letters, digits, _ and -; got ${JSON.stringify(name)})`,
    );
  }
  return name;
}
