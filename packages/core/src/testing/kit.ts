import type { Calls, CallOptions, EmitOptions } from '../client.js';
import { makeProxies } from '../proxies.js';
import type { InstanceConfig } from '../config/instance.js';
import { ConfigView } from '../config/view.js';
import type { ServiceContainer, WorkerOutcome } from '../container/container.js';
import { WorkerContext, runInContext } from '../context.js';
import { DependencyProvider } from '../dependency.js';
import { UsageError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { MemorySink, RecordLogger } from '../log/index.js';
import type { LogRecord } from '../log/logger.js';
import { Metrics } from '../metrics.js';
import {
  BINDING,
  type Service,
  type ServiceBinding,
  type ServiceClass,
  serviceNameOf,
} from '../service.js';
import type { CallsOf, RpcStubs } from '../typed.js';

/** A call a service made through a test worker's fake `rpc`. */
export interface RecordedCall {
  service: string;
  method: string;
  params: unknown;
  options?: CallOptions;
}

/** An event a test worker emitted. */
export interface RecordedEvent {
  type: string;
  body: unknown;
  options: EmitOptions;
}

/** A recording stand-in for a dependency: every call is kept in `calls`, and returns `undefined`. */
export interface Fake {
  (...args: unknown[]): unknown;
  readonly calls: Array<{ path: string; args: unknown[] }>;
  [key: string]: unknown;
}

/** Makes a fake that records calls to itself and to any property path (`fake.get('k')`). */
export function fake(calls: Array<{ path: string; args: unknown[] }> = [], path = ''): Fake {
  const children = new Map<string, Fake>();
  const fn = function () {} as unknown as Fake;
  return new Proxy(fn, {
    apply(_t, _this, args: unknown[]) {
      calls.push({ path: path || '()', args });
      return undefined;
    },
    get(_t, key) {
      if (key === 'calls')
        return path === '' ? calls : calls.filter((c) => c.path.startsWith(path));
      if (key === 'then' || typeof key !== 'string') return undefined;
      let child = children.get(key);
      if (!child) children.set(key, (child = fake(calls, path ? `${path}.${key}` : key)));
      return child;
    },
  });
}

/** A test worker: the service object plus what it did. */
export interface TestWorker<S extends Service> {
  /** the service object; call its methods directly */
  service: S;
  /** the value each dependency field got (fakes unless given) */
  deps: Record<string, unknown>;
  /** calls made through `this.rpc` / `this.call` */
  calls: RecordedCall[];
  /** events emitted */
  emitted: RecordedEvent[];
  /** log records made */
  logs: LogRecord[];
  /** Runs `fn` inside a worker context, as the container would (trace id, call-id stack). */
  run<T>(fn: (service: S) => T): T;
}

/**
 * Nameko's `worker_factory`: a service object whose dependencies are fakes
 * (or the values given), whose `rpc` answers from `rpc` stubs and records
 * calls, and whose `emit` records events: for testing a method alone. The
 * stubs are typed by the services the class calls:
 * `{ helloworld: { hello: ({ name }) => \`Hi, ${name}\` } }`.
 */
export function workerFactory<S extends Service>(
  cls: ServiceClass<S>,
  options: {
    deps?: Record<string, unknown>;
    rpc?: RpcStubs<CallsOf<S>>;
    config?: Record<string, unknown>;
  } = {},
): TestWorker<S> {
  const name = serviceNameOf(cls);
  const service = new cls();
  const deps: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(service as unknown as Record<string, unknown>)) {
    if (value instanceof DependencyProvider) {
      deps[key] = options.deps && Object.hasOwn(options.deps, key) ? options.deps[key] : fake();
      (service as unknown as Record<string, unknown>)[key] = deps[key];
    }
  }
  for (const key of Object.keys(options.deps ?? {})) {
    if (!Object.hasOwn(deps, key)) throw new UsageError(`${name} has no dependency field "${key}"`);
  }
  const calls: RecordedCall[] = [];
  const emitted: RecordedEvent[] = [];
  const sink = new MemorySink();
  // Looked up by names from the worker's calls: own properties only.
  const stubs = (options.rpc ?? {}) as Record<string, Record<string, (p: unknown) => unknown>>;
  /** Records a call and runs its stub, if there is one: what it returns, or `undefined`. */
  const answer = (svc: string, method: string, params: unknown, callOptions?: CallOptions) => {
    calls.push({ service: svc, method, params, ...(callOptions ? { options: callOptions } : {}) });
    const forService = Object.hasOwn(stubs, svc) ? stubs[svc] : undefined;
    const stub = forService && Object.hasOwn(forService, method) ? forService[method] : undefined;
    return stub?.(params);
  };
  const caller: Calls = {
    async call(svc, method, params, callOptions) {
      return answer(svc, method, params, callOptions);
    },
    defer(svc, method, params, callOptions) {
      const p = caller.call(svc, method, params, callOptions);
      return { result: () => p };
    },
    stream(svc, method, params, callOptions) {
      const items = answer(svc, method, params, callOptions) as
        AsyncIterable<unknown> | Iterable<unknown> | undefined;
      return (async function* () {
        yield* items ?? [];
      })();
    },
    async emit(type, body, emitOptions) {
      emitted.push({ type, body, options: emitOptions ?? {} });
    },
    get proxies() {
      return proxies;
    },
  };
  const proxies = makeProxies(caller);
  const binding: ServiceBinding = {
    serviceName: name,
    log: new RecordLogger([sink], { service: name }, 'debug'),
    caller,
    config: new ConfigView({
      file: '<test>',
      dir: process.cwd(),
      section: options.config ?? {},
      root: options.config ?? {},
      sectionPath: `interfaces.${name}`,
    }),
    metrics: new Metrics(),
    track: () => {},
  };
  Object.defineProperty(service, BINDING, { value: binding, enumerable: false });
  return {
    service,
    deps,
    calls,
    emitted,
    logs: sink.records,
    run: (fn) =>
      runInContext(new WorkerContext({ service: name, method: 'test', kind: 'rpc' }), () =>
        fn(service),
      ),
  };
}

function entrypointNamed(container: ServiceContainer, method: string) {
  const ep = container.entrypoints.find(
    (e) => e.method === method || (e.kind === 'rpc' && e.name === method),
  );
  if (!ep) {
    throw new UsageError(
      `${container.name} has no entrypoint "${method}" (it has: ${container.entrypoints.map((e) => e.method).join(', ') || 'none'})`,
    );
  }
  return ep;
}

/**
 * Nameko's `entrypoint_hook`: a function that runs an entrypoint of a
 * running container as a real worker (dependencies, context, hooks) and
 * resolves with its result.
 */
export function entrypointHook(
  container: ServiceContainer,
  method: string,
  headers?: { traceId?: string; callIdStack?: string[]; data?: Record<string, unknown> },
): (...args: unknown[]) => Promise<unknown> {
  const ep = entrypointNamed(container, method);
  return (...args) =>
    container.spawnWorker(ep, ep.kind === 'rpc' && args.length === 0 ? [{}] : args, headers);
}

/**
 * Nameko's `entrypoint_waiter`: resolves when the next worker of `method`
 * has finished, with its outcome; rejects after `timeout` ms.
 */
export function entrypointWaiter(
  container: ServiceContainer,
  method: string,
  options: { timeout?: number; filter?: (outcome: WorkerOutcome) => boolean } = {},
): Promise<WorkerOutcome> {
  const ep = entrypointNamed(container, method);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(
        new Error(
          `no worker of ${container.name}.${method} finished within ${options.timeout ?? 5000} ms`,
        ),
      );
    }, options.timeout ?? 5000);
    const stop = container.observe((outcome) => {
      if (outcome.ep !== ep || (options.filter && !options.filter(outcome))) return;
      clearTimeout(timer);
      stop();
      resolve(outcome);
    });
  });
}

/**
 * Nameko's `replace_dependencies`: before the container starts, gives each
 * named field a fake (or the given value); returns what each field gets.
 */
export function replaceDependencies(
  container: ServiceContainer,
  replacements: string[] | Record<string, unknown>,
): Record<string, unknown> {
  const values: Record<string, unknown> = Array.isArray(replacements)
    ? Object.fromEntries(replacements.map((k) => [k, fake()]))
    : { ...replacements };
  const template = new container.cls() as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    if (!(template[key] instanceof DependencyProvider)) {
      throw new UsageError(`${container.name} has no dependency field "${key}"`);
    }
    container.overrideDependency(key, value);
  }
  return values;
}

/** An instance config for in-memory tests: embedded names are unused since backends come from a hub. */
export function testConfig(
  services: readonly ServiceClass[],
  overrides: Partial<InstanceConfig> = {},
): InstanceConfig {
  return {
    file: '<test>',
    dir: process.cwd(),
    cluster: 'test',
    registry: 'memory',
    rpc: 'memory',
    events: 'memory',
    bindHost: '127.0.0.1',
    advertiseHost: '127.0.0.1',
    rpcTls: false,
    rpcUnix: true,
    http: { host: '127.0.0.1', port: 0, trustTraceHeader: false },
    metrics: { host: '127.0.0.1' },
    log: { level: 'debug' },
    tracing: {},
    maxWorkers: 10,
    stopTimeout: 5000,
    rpcTimeout: 5000,
    plugins: [],
    limits: { ...DEFAULT_LIMITS },
    debug: { shell: false, inspector: false },
    interfaces: services.map((cls) => ({
      name: serviceNameOf(cls),
      class: `<test>#${cls.name}`,
      options: {},
    })),
    raw: {},
    ...overrides,
  };
}
