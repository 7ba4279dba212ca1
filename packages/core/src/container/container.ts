import type { Backends } from '../backends.js';
import { Caller } from '../client.js';
import type { ConfigView } from '../config/view.js';
import type { CallHeaders } from '../context-headers.js';
import { runInContext, WorkerContext } from '../context.js';
import { collectEntrypoints, type EntrypointMeta, type RetryPolicy } from '../decorators.js';
import { DependencyProvider, type ProviderHost } from '../dependency.js';
import {
  ContainerStoppedError,
  MethodNotFoundError,
  SvcError,
  UsageError,
  toWireError,
} from '../errors.js';
import type { EventMessage, SubscriptionSpec } from '../events/transport.js';
import type { Hooks } from '../hooks.js';
import { describeService, mapParams, type ServiceDescription } from '../inspect.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics.js';
import {
  BINDING,
  type Service,
  type ServiceBinding,
  type ServiceClass,
  serviceNameOf,
} from '../service.js';
import { elapsedMs, isThenable } from '../sync.js';
import type { RpcRequest, RpcResponse } from '../rpc/transport.js';

export interface ContainerOptions {
  backends: Backends;
  config: ConfigView;
  /** the instance's logger; the container adds `service` */
  log: Logger;
  hooks: Hooks;
  metrics: Metrics;
  instanceId: string;
  /** workers of this service running at once; more wait in line */
  maxWorkers: number;
  /** milliseconds `stop()` waits for running workers */
  stopTimeout: number;
  /** default timeout of outgoing calls */
  rpcTimeout: number;
  /** source file of the class, for doc comments in `svc.inspect()` */
  sourceFile?: string;
  /** answers `svc.*` calls that need the instance (status, metrics) */
  builtins?: (
    method: string,
    params: unknown,
    container: ServiceContainer,
  ) => Promise<unknown> | undefined;
}

/** What an observer learns of each finished worker. */
export interface WorkerOutcome {
  ep: EntrypointMeta;
  ctx: WorkerContext;
  result: unknown;
  error: unknown;
  failed: boolean;
  durationMs: number;
}
export type WorkerObserver = (outcome: WorkerOutcome) => void;

/** Provides a fixed value (a fake, in tests). */
class ValueProvider extends DependencyProvider {
  readonly #value: unknown;
  constructor(value: unknown) {
    super();
    this.#value = value;
  }
  getDependency(): unknown {
    return this.#value;
  }
}

export type ContainerState = 'new' | 'setup' | 'started' | 'stopping' | 'stopped' | 'killed';

/** Retries when an event handler throws and declares no policy: 3 tries, 0.5 s then 1 s apart. */
export const DEFAULT_EVENT_RETRY: RetryPolicy = {
  attempts: 3,
  delay: 500,
  backoff: 2,
  maxDelay: 30_000,
};

const EXPECTED_BY_NATURE = new Set([
  'SVC_ERR_VALIDATION',
  'SVC_ERR_METHOD_NOT_FOUND',
  'SVC_ERR_INCORRECT_SIGNATURE',
]);

/**
 * Runs one service: its dependency providers, its entrypoints and its
 * workers. Order, as Nameko's: start = setup providers, start providers,
 * `onStart`, start entrypoints; stop = stop entrypoints, wait for running
 * workers (bounded), `onStop`, stop providers. `kill()` never throws.
 */
export class ServiceContainer {
  readonly name: string;
  readonly cls: ServiceClass;
  readonly entrypoints: readonly EntrypointMeta[];
  readonly log: Logger;
  readonly caller: Caller;
  readonly options: ContainerOptions;
  readonly providers = new Map<string, DependencyProvider>();
  state: ContainerState = 'new';

  readonly #rpc = new Map<string, Extract<EntrypointMeta, { kind: 'rpc' }>>();
  /** workers running now, and who waits for there to be none (a stop) */
  #running = 0;
  readonly #idle: Array<() => void> = [];
  readonly #waiting: Array<() => void> = [];
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #observers = new Set<WorkerObserver>();
  readonly #overrides = new Map<string, unknown>();
  readonly #epNames = new Map<EntrypointMeta, string>();
  #active = 0;
  #lifecycle: Service | undefined;
  #description: ServiceDescription | undefined;

  constructor(cls: ServiceClass, options: ContainerOptions) {
    this.cls = cls;
    this.name = serviceNameOf(cls);
    this.options = options;
    this.entrypoints = collectEntrypoints(cls);
    this.log = options.log.child({ service: this.name });
    this.caller = new Caller(options.backends, {
      name: this.name,
      timeout: options.rpcTimeout,
      onDeferredError: (err) => this.log.warn(`a deferred call failed: ${(err as Error).message}`),
    });
    for (const ep of this.entrypoints) {
      if (ep.kind !== 'rpc') continue;
      if (ep.name.startsWith('svc.'))
        throw new TypeError(`${this.name}: RPC names starting with "svc." are reserved`);
      if (this.#rpc.has(ep.name))
        throw new TypeError(`${this.name}: two RPC methods are named "${ep.name}"`);
      this.#rpc.set(ep.name, ep);
    }
  }

  get activeWorkers(): number {
    return this.#active;
  }
  get queuedWorkers(): number {
    return this.#waiting.length;
  }

  /** Finds the dependency providers (fields holding one) and sets them up. */
  async setup(): Promise<void> {
    const template = new this.cls() as unknown as Record<string, unknown>;
    const host: ProviderHost = {
      serviceName: this.name,
      config: this.options.config,
      log: this.log,
    };
    for (const [key, value] of Object.entries(template)) {
      if (this.#overrides.has(key)) {
        this.providers.set(key, new ValueProvider(this.#overrides.get(key)));
        this.providers.get(key)!.attrName = key;
      } else if (value instanceof DependencyProvider) {
        value.host = host;
        value.attrName = key;
        this.providers.set(key, value);
      }
    }
    for (const p of this.providers.values()) await p.setup();
    this.state = 'setup';
  }

  /** Starts providers, runs `onStart`, then starts timers. RPC, events and HTTP are fed by the instance. */
  async start(): Promise<void> {
    if (this.state === 'new') await this.setup();
    for (const p of this.providers.values()) await p.start();
    this.#lifecycle = this.#newServiceObject(new WorkerBinding(this, false));
    await this.#lifecycle.onStart?.();
    this.state = 'started';
    await this.options.hooks.run('onServiceStart', this.name);
    for (const ep of this.entrypoints) if (ep.kind === 'timer') this.#startTimer(ep);
  }

  /** Stops taking work, waits for running workers (up to `stopTimeout`), runs `onStop`, stops providers. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'killed' || this.state === 'stopping') return;
    const wasStarted = this.state === 'started';
    this.state = 'stopping';
    await this.options.hooks.run('onServiceStop', this.name);
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    // Workers still waiting for a slot will not run: fail them.
    for (const wake of this.#waiting.splice(0)) wake();
    await this.#drain(this.options.stopTimeout);
    if (wasStarted) {
      try {
        await this.#lifecycle?.onStop?.();
      } catch (err) {
        this.log.error(`onStop failed: ${(err as Error).message}`, { stack: (err as Error).stack });
      }
    }
    for (const p of this.providers.values()) {
      try {
        await p.stop();
      } catch (err) {
        this.log.error(`stopping dependency ${p.attrName} failed: ${(err as Error).message}`);
      }
    }
    this.state = 'stopped';
  }

  /** Stops at once: timers cleared, providers killed. Never throws. */
  async kill(): Promise<void> {
    this.state = 'killed';
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    for (const wake of this.#waiting.splice(0)) wake();
    for (const p of this.providers.values()) {
      try {
        await p.kill();
      } catch {
        // kill must never throw.
      }
    }
  }

  /**
   * Answers one RPC request; never rejects. A worker that finished
   * synchronously is answered without a promise: with a worker context in
   * the process every promise runs AsyncLocalStorage's hooks, so the hot
   * path makes as few as it can.
   */
  handleRpc(request: RpcRequest): RpcResponse | Promise<RpcResponse> {
    try {
      if (request.method.startsWith('svc.')) {
        return this.#builtin(request.method.slice(4), request.params).then(
          okResponse,
          errorResponse,
        );
      }
      const ep = this.#rpc.get(request.method);
      if (!ep) {
        throw new MethodNotFoundError(`${this.name} has no RPC method "${request.method}"`, {
          data: { service: this.name, method: request.method },
        });
      }
      const params = mapParams(this, ep, request);
      const result = this.dispatch(ep, [params], request.headers);
      return isThenable(result)
        ? Promise.resolve(result).then(okResponse, errorResponse)
        : okResponse(result);
    } catch (err) {
      return errorResponse(err);
    }
  }

  /** The subscriptions of this service's event handlers, each with its handler and retry policy. */
  eventSubscriptions(): Array<{
    spec: SubscriptionSpec;
    handle: (event: EventMessage) => Promise<void>;
  }> {
    return this.entrypoints.flatMap((ep) => {
      if (ep.kind !== 'event') return [];
      const spec: SubscriptionSpec = {
        service: this.name,
        handler: ep.method,
        type: ep.type,
        mode: ep.options.broadcast ? 'broadcast' : ep.options.singleton ? 'singleton' : 'pool',
        prefetch: this.options.maxWorkers,
        ...(ep.options.source === undefined ? {} : { source: ep.options.source }),
      };
      return [{ spec, handle: (event: EventMessage) => this.#handleEvent(ep, event) }];
    });
  }

  /** Calls `observer` after every worker; returns the function that stops it. */
  observe(observer: WorkerObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Gives every worker `value` in field `attr` instead of what its provider
   * would (the test kit's `replaceDependencies`). Call before `start()`.
   */
  overrideDependency(attr: string, value: unknown): void {
    if (this.state !== 'new')
      throw new UsageError(`${this.name}: replace dependencies before the container starts`);
    this.#overrides.set(attr, value);
  }

  /** What `svc.inspect()` answers. */
  describe(): ServiceDescription {
    this.#description ??= describeService(this);
    return this.#description;
  }

  /**
   * Runs one worker: waits for a slot (maxWorkers), creates a fresh service
   * object with its dependencies, runs the method in a worker context and
   * reports the outcome to providers, hooks, metrics and the log.
   */
  runWorker(ep: EntrypointMeta, args: unknown[], headers?: Partial<CallHeaders>): Promise<unknown> {
    try {
      return Promise.resolve(this.dispatch(ep, args, headers));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * {@link runWorker} for the entrypoints' hot paths: a worker that finished
   * synchronously (a plain method without providers or worker hooks, a free
   * slot) returns its result, or throws its error, without a promise; any
   * other returns a promise of it.
   */
  dispatch(ep: EntrypointMeta, args: unknown[], headers?: Partial<CallHeaders>): unknown {
    if (this.state !== 'started') {
      throw new ContainerStoppedError(
        `${this.name} is ${this.state === 'stopping' ? 'stopping' : 'not running'}`,
      );
    }
    // A free slot is taken without an await; only a full container waits in line.
    if (this.#active < this.options.maxWorkers) {
      this.#active++;
      return this.#startWorker(ep, args, headers);
    }
    return this.#acquire().then(() => this.#startWorker(ep, args, headers));
  }

  /** Runs one worker in a slot already taken; the slot is given back when it ends. */
  #startWorker(ep: EntrypointMeta, args: unknown[], headers?: Partial<CallHeaders>): unknown {
    this.#running++;
    let ctx: WorkerContext;
    try {
      ctx = new WorkerContext({
        service: this.name,
        method: ep.kind === 'rpc' ? ep.name : ep.method,
        kind: ep.kind,
        ...(headers ? { headers } : {}),
      });
    } catch (err) {
      this.#workerEnded();
      throw err;
    }
    const hooks = this.options.hooks;
    const plain =
      this.providers.size === 0 &&
      !hooks.has('onWorkerStart') &&
      !hooks.has('onWorkerEnd') &&
      !hooks.has('onError');
    return runInContext(ctx, () =>
      plain ? this.#workPlain(ep, ctx, args) : this.#work(ep, ctx, args),
    );
  }

  #workerEnded(): void {
    this.#running--;
    this.#release();
    if (this.#running === 0) for (const idle of this.#idle.splice(0)) idle();
  }

  /**
   * A worker with nothing around its method (no providers, no worker hooks):
   * a method that returns a plain value and starts no emits it leaves
   * unawaited ends here, without a promise.
   */
  #workPlain(ep: EntrypointMeta, ctx: WorkerContext, args: unknown[]): unknown {
    const started = performance.now();
    const binding = new WorkerBinding(this, true);
    let result: unknown;
    try {
      const obj = this.#newServiceObject(binding) as unknown as Record<string, unknown>;
      result = (obj[ep.method] as (...a: unknown[]) => unknown).apply(obj, args);
    } catch (err) {
      try {
        this.#report(ep, ctx, elapsedMs(started), undefined, err, true);
      } finally {
        this.#workerEnded();
      }
      throw err;
    }
    if (!isThenable(result) && binding.pending === undefined) {
      try {
        this.#report(ep, ctx, elapsedMs(started), result, undefined, false);
      } finally {
        this.#workerEnded();
      }
      return result;
    }
    return this.#settlePlain(ep, ctx, started, result, binding);
  }

  async #settlePlain(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    started: number,
    returned: unknown,
    binding: WorkerBinding,
  ): Promise<unknown> {
    let result: unknown;
    let error: unknown;
    let failed = false;
    try {
      result = await returned;
      if (binding.pending) await Promise.allSettled(binding.pending);
    } catch (err) {
      error = err;
      failed = true;
    }
    try {
      this.#report(ep, ctx, elapsedMs(started), result, error, failed);
    } finally {
      this.#workerEnded();
    }
    if (failed) throw error;
    return result;
  }

  /** Metrics, the outcome's log record and observers, once a worker has ended. */
  #report(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    durationMs: number,
    result: unknown,
    error: unknown,
    failed: boolean,
  ): void {
    this.options.metrics.record(this.#entrypointName(ep), ep.kind, durationMs, failed);
    this.#logOutcome(ep, ctx, durationMs, failed, error);
    if (this.#observers.size > 0) {
      for (const observe of this.#observers)
        observe({ ep, ctx, result, error, failed, durationMs });
    }
  }

  async #work(ep: EntrypointMeta, ctx: WorkerContext, args: unknown[]): Promise<unknown> {
    try {
      const started = performance.now();
      const binding = new WorkerBinding(this, true);
      const hooks = this.options.hooks;
      // Only hooks and no providers (or the other way round): each await
      // skipped is a turn of the microtask queue on every call.
      const providers = this.providers.size > 0;
      let result: unknown;
      let error: unknown;
      let failed = false;
      try {
        const obj = this.#newServiceObject(binding) as unknown as Record<string, unknown>;
        if (providers) {
          for (const p of this.providers.values()) await p.workerSetup(ctx);
          for (const [attr, p] of this.providers) obj[attr] = await p.getDependency(ctx);
        }
        if (hooks.has('onWorkerStart')) await hooks.run('onWorkerStart', ctx);
        const method = obj[ep.method] as (...a: unknown[]) => unknown;
        result = method.apply(obj, args);
        if (isThenable(result)) result = await result;
        if (binding.pending) await Promise.allSettled(binding.pending);
      } catch (err) {
        error = err;
        failed = true;
      }
      const durationMs = elapsedMs(started);
      if (providers) {
        for (const p of this.providers.values()) {
          try {
            await p.workerResult(ctx, result, error);
          } catch (err) {
            this.log.error(
              `dependency ${p.attrName} failed in workerResult: ${(err as Error).message}`,
            );
          }
        }
      }
      this.#report(ep, ctx, durationMs, result, error, failed);
      if (failed && hooks.has('onError') && !this.#isExpected(ep, error))
        await hooks.run('onError', error, ctx);
      if (hooks.has('onWorkerEnd'))
        await hooks.run('onWorkerEnd', ctx, failed ? { error, durationMs } : { durationMs });
      if (providers) {
        for (const p of this.providers.values()) {
          try {
            await p.workerTeardown(ctx);
          } catch (err) {
            this.log.error(
              `dependency ${p.attrName} failed in workerTeardown: ${(err as Error).message}`,
            );
          }
        }
      }
      if (failed) throw error;
      return result;
    } finally {
      this.#workerEnded();
    }
  }

  /** `Service.method`, built once per entrypoint rather than on every call. */
  #entrypointName(ep: EntrypointMeta): string {
    let name = this.#epNames.get(ep);
    if (name === undefined) {
      name = `${this.name}.${ep.kind === 'rpc' ? ep.name : ep.method}`;
      this.#epNames.set(ep, name);
    }
    return name;
  }

  #logOutcome(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    durationMs: number,
    failed: boolean,
    error: unknown,
  ): void {
    const expected = failed && this.#isExpected(ep, error);
    // Built only when kept: a worker's record costs more than a small worker.
    if (this.log.enabled?.(failed ? (expected ? 'warn' : 'error') : 'info') === false) return;
    const fields = {
      kind: ep.kind,
      entrypoint: `${this.name}.${ctx.method}`,
      duration_ms: durationMs,
    };
    if (!failed) {
      this.log.info(`${ep.kind} ${this.name}.${ctx.method} ok`, fields);
      return;
    }
    const err = error as Error;
    const errFields = {
      ...fields,
      error: err?.name ?? typeof error,
      error_message: err?.message ?? String(error),
    };
    if (expected) {
      this.log.warn(
        `${ep.kind} ${this.name}.${ctx.method} failed: ${errFields.error_message}`,
        errFields,
      );
    } else {
      this.log.error(`${ep.kind} ${this.name}.${ctx.method} failed: ${errFields.error_message}`, {
        ...errFields,
        stack: err?.stack,
      });
    }
  }

  #isExpected(ep: EntrypointMeta, error: unknown): boolean {
    if (error instanceof SvcError && EXPECTED_BY_NATURE.has(error.code)) return true;
    return (ep.options.expected ?? []).some((cls) => error instanceof cls);
  }

  async #handleEvent(
    ep: Extract<EntrypointMeta, { kind: 'event' }>,
    event: EventMessage,
  ): Promise<void> {
    const policy = ep.options.retry ?? DEFAULT_EVENT_RETRY;
    const attempts = Math.max(1, Math.floor(policy.attempts));
    let wait = policy.delay;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.runWorker(ep, [event.body, event], event.headers);
        return;
      } catch (err) {
        if (
          err instanceof ContainerStoppedError ||
          attempt >= attempts ||
          this.state !== 'started'
        ) {
          if (!(err instanceof ContainerStoppedError)) {
            this.log.error(
              `giving up on event ${event.type} (${event.id}) after ${attempt} tries`,
              {
                event: event.id,
                entrypoint: `${this.name}.${ep.method}`,
              },
            );
          }
          throw err;
        }
        this.log.warn(
          `retrying event ${event.type} (${event.id}) in ${wait} ms (try ${attempt + 1} of ${attempts})`,
        );
        await new Promise((r) => setTimeout(r, wait));
        wait = Math.min(wait * (policy.backoff ?? 2), policy.maxDelay ?? 30_000);
      }
    }
  }

  #startTimer(ep: Extract<EntrypointMeta, { kind: 'timer' }>): void {
    // The next run is scheduled when the previous one ends, so a timer never overlaps itself.
    const tick = async () => {
      if (this.state !== 'started') return;
      const began = performance.now();
      try {
        await this.runWorker(ep, []);
      } catch {
        // logged by the worker
      }
      if (this.state !== 'started') return;
      schedule(Math.max(0, ep.interval - (performance.now() - began)));
    };
    const schedule = (ms: number) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        void tick();
      }, ms);
      this.#timers.add(t);
    };
    schedule(ep.options.eager ? 0 : ep.interval);
  }

  async #builtin(name: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, unknown>;
    switch (name) {
      case 'ping':
        return p['payload'] ?? null;
      case 'inspect':
        return this.describe();
    }
    const answer = this.options.builtins?.(name, params, this);
    if (answer) return answer;
    throw new MethodNotFoundError(`${this.name} has no built-in method "svc.${name}"`);
  }

  #newServiceObject(binding: WorkerBinding): Service {
    const obj = new this.cls();
    // A plain assignment: defineProperty was a runtime call on every worker.
    obj[BINDING] = binding;
    return obj;
  }

  async #acquire(): Promise<void> {
    while (this.#active >= this.options.maxWorkers) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      if (this.state !== 'started') throw new ContainerStoppedError(`${this.name} is stopping`);
    }
    this.#active++;
  }

  #release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }

  async #drain(timeoutMs: number): Promise<void> {
    if (this.#running === 0) return;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>(
      (r) => (timer = setTimeout(() => r('timeout'), timeoutMs)),
    );
    const idle = new Promise<'done'>((r) => this.#idle.push(() => r('done')));
    const outcome = await Promise.race([idle, timeout]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.log.warn(`stopped waiting for ${this.#running} running worker(s) after ${timeoutMs} ms`);
    }
  }
}

/**
 * What one service object is bound to: the container's surfaces, and the
 * emits its worker started without awaiting them (the worker waits for
 * those before it ends). One small object per worker, its methods shared.
 */
class WorkerBinding implements ServiceBinding {
  readonly #container: ServiceContainer;
  readonly #keep: boolean;
  /** unawaited emits of this worker, made on the first one */
  pending: Promise<unknown>[] | undefined;

  constructor(container: ServiceContainer, keep: boolean) {
    this.#container = container;
    this.#keep = keep;
  }
  get serviceName(): string {
    return this.#container.name;
  }
  get log(): Logger {
    return this.#container.log;
  }
  get caller(): Caller {
    return this.#container.caller;
  }
  get config(): ConfigView {
    return this.#container.options.config;
  }
  get metrics(): Metrics {
    return this.#container.options.metrics;
  }
  track(promise: Promise<unknown>): void {
    if (this.#keep) (this.pending ??= []).push(promise);
    const log = this.#container.log;
    promise.catch((err: unknown) => log.warn(`an emit failed: ${(err as Error).message}`));
  }
}

const okResponse = (result: unknown): RpcResponse => ({ ok: true, result });
const errorResponse = (err: unknown): RpcResponse => ({ ok: false, error: toWireError(err) });
