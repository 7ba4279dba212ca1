import type { Backends } from '../backends.js';
import { type BuiltinHost } from '../builtins.js';
import type { CancelToken } from '../cancel.js';
import { Caller } from '../client.js';
import type { ConfigView } from '../config/view.js';
import type { CallHeaders } from '../context-headers.js';
import { runInContext, WorkerContext } from '../context.js';
import { collectEntrypoints, type EntrypointMeta } from '../decorators.js';
import { DependencyProvider, type ProviderHost } from '../dependency.js';
import {
  CancelledError,
  ContainerStoppedError,
  DeadlineExceededError,
  ErrorCode,
  SvcError,
  UsageError,
} from '../errors.js';
import type { Hooks } from '../hooks.js';
import { describeService, type ClassDocs, type ServiceDescription } from '../inspect.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics.js';
import type { RpcAnswer, RpcRequest } from '../rpc/transport.js';
import { type Service, type ServiceClass, serviceNameOf } from '../service.js';
import { eventSubscriptions, type EventSubscription } from './events.js';
import { WorkerPool } from './pool.js';
import { RpcEntrypoints } from './rpc.js';
import { TimerEntrypoints } from './timers.js';
import { redact } from '../redact.js';
import { watchOutcome, workerSpan } from '../tracing/spans.js';
import type { SpanTracer } from '../tracing/tracer.js';
import { newServiceObject, WorkerBinding, WorkerRunner, type WorkerObserver } from './worker.js';

export type { StreamOutcome, WorkerObserver, WorkerOutcome } from './worker.js';
export { DEFAULT_EVENT_RETRY } from './events.js';

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
  /** the class's doc comments and parameter names from its source, read when `svc.inspect()` first needs them */
  docs?: () => ClassDocs | undefined;
  /** the instance the container runs in, for the built-ins that describe it (`svc.status`) */
  instance?: BuiltinHost;
  /** records the spans of this service's workers and calls (when tracing export is on) */
  tracer?: SpanTracer;
}

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

/** What bounds one worker's run: its caller's deadline and cancellation (an RPC request's). */
export interface WorkerLimits {
  /** milliseconds the caller still waits, from now */
  timeout?: number;
  /** aborted when the caller cancels or goes away */
  cancel?: CancelToken;
  /** the worker's span id, when its caller chose it (the HTTP server already sent it in `traceparent`) */
  spanId?: string;
}

/**
 * A service could not start: its `onStart`, or a dependency's `setup` or
 * `start`, threw. The message names the service and the step; `cause` is
 * what was thrown. (svc's own errors pass through as they are.)
 */
export class ServiceStartError extends SvcError {
  static override code: string = ErrorCode.SERVICE_START;
}

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

  readonly #pool: WorkerPool;
  readonly #workers: WorkerRunner;
  readonly #rpc: RpcEntrypoints;
  readonly #timers = new TimerEntrypoints(this);
  readonly #overrides = new Map<string, unknown>();
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
      ...(options.tracer ? { tracer: options.tracer } : {}),
    });
    this.#pool = new WorkerPool(options.maxWorkers);
    this.#workers = new WorkerRunner(this, (ctx) => {
      ctx.end();
      this.#pool.ended();
    });
    this.#rpc = new RpcEntrypoints(this);
  }

  get activeWorkers(): number {
    return this.#pool.active;
  }
  get queuedWorkers(): number {
    return this.#pool.queued;
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
    for (const p of this.providers.values())
      await this.#starting(`setting up dependency ${p.attrName}`, () => p.setup());
    this.state = 'setup';
  }

  /** Starts providers, runs `onStart`, then starts timers. RPC, events and HTTP are fed by the instance. */
  async start(): Promise<void> {
    if (this.state === 'new') await this.setup();
    for (const p of this.providers.values())
      await this.#starting(`starting dependency ${p.attrName}`, () => p.start());
    const lifecycle = newServiceObject(this, new WorkerBinding(this, false));
    this.#lifecycle = lifecycle;
    await this.#starting('onStart', () => lifecycle.onStart?.());
    this.state = 'started';
    await this.options.hooks.run('onServiceStart', this.name);
    this.#timers.start();
  }

  /** Runs one step of the start; what it throws, unless svc's own, becomes a ServiceStartError. */
  async #starting(step: string, run: () => unknown): Promise<void> {
    try {
      await run();
    } catch (err) {
      if (err instanceof SvcError) throw err;
      const message = err instanceof Error ? err.message : String(err);
      // The line a user reads names the service and the step; the stack is for debugging.
      this.log.debug(`${step} failed`, { stack: err instanceof Error ? err.stack : undefined });
      throw new ServiceStartError(`${this.name}: ${step} failed: ${message}`, { cause: err });
    }
  }

  /** Stops taking work, waits for running workers (up to `stopTimeout`), runs `onStop`, stops providers. */
  async stop(): Promise<void> {
    if (this.state === 'stopped' || this.state === 'killed' || this.state === 'stopping') return;
    const wasStarted = this.state === 'started';
    this.state = 'stopping';
    await this.options.hooks.run('onServiceStop', this.name);
    this.#timers.stop();
    // Workers still waiting for a slot will not run: fail them.
    this.#pool.close();
    const timeoutMs = this.options.stopTimeout;
    const left = await this.#pool.drain(timeoutMs);
    if (left > 0)
      this.log.warn(`stopped waiting for ${left} running worker(s) after ${timeoutMs} ms`);
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
    this.#timers.stop();
    this.#pool.close();
    for (const p of this.providers.values()) {
      try {
        await p.kill();
      } catch {
        // kill must never throw.
      }
    }
  }

  /** Answers one RPC request (a method of the service or a `svc.*` built-in); never rejects. */
  handleRpc(request: RpcRequest): RpcAnswer | Promise<RpcAnswer> {
    return this.#rpc.handle(request);
  }

  /** The subscriptions of this service's event handlers, each with its handler and retry policy. */
  eventSubscriptions(): EventSubscription[] {
    return eventSubscriptions(this);
  }

  /** Calls `observer` after every worker; returns the function that stops it. */
  observe(observer: WorkerObserver): () => void {
    return this.#workers.observe(observer);
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
   * Runs one worker of entrypoint `ep` (Nameko's `spawn_worker`): waits for
   * a slot (`maxWorkers`), makes a fresh service object with its
   * dependencies, runs the method in a worker context with `headers` (trace
   * id, call-id stack, context data) and reports the outcome to providers,
   * hooks, metrics, observers and the log. Resolves with the method's result.
   */
  spawnWorker(
    ep: EntrypointMeta,
    args: unknown[],
    headers?: Partial<CallHeaders>,
    limits?: WorkerLimits,
  ): Promise<unknown> {
    try {
      return Promise.resolve(this.dispatch(ep, args, headers, limits));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  /**
   * {@link spawnWorker} for the entrypoints' hot paths: a worker that
   * finished synchronously (a plain method without providers or worker
   * hooks, a free slot) returns its result, or throws its error, without a
   * promise; any other returns a promise of it. A streaming method (`async
   * *`) gives its items as an ItemSource. `limits` (an RPC request's) bound
   * the worker: a call that expired or was cancelled while it waited for a
   * slot is not started.
   */
  dispatch(
    ep: EntrypointMeta,
    args: unknown[],
    headers?: Partial<CallHeaders>,
    limits?: WorkerLimits,
  ): unknown {
    if (this.state !== 'started') {
      throw new ContainerStoppedError(
        `${this.name} is ${this.state === 'stopping' ? 'stopping' : 'not running'}`,
      );
    }
    // A free slot is taken without an await; only a full container waits in line.
    if (this.#pool.tryTake()) return this.#start(ep, args, headers, limits?.timeout, limits);
    const arrived = limits?.timeout === undefined ? 0 : Date.now();
    return this.#pool.take().then((taken) => {
      if (!taken) throw new ContainerStoppedError(`${this.name} is stopping`);
      const cancel = limits?.cancel;
      let timeout = limits?.timeout;
      if (timeout !== undefined) timeout -= Date.now() - arrived;
      if (cancel?.aborted || (timeout !== undefined && timeout <= 0)) {
        this.#pool.release();
        const name = `${this.name}.${ep.kind === 'rpc' ? ep.name : ep.method}`;
        const why = cancel?.aborted
          ? 'its caller cancelled it'
          : 'its deadline passed while it waited for a worker';
        this.log.warn(`${ep.kind} ${name} not started: ${why}`, { entrypoint: name });
        if (cancel?.aborted) throw new CancelledError(`${name} did not start: ${why}`);
        throw new DeadlineExceededError(`${name} did not start: ${why}`);
      }
      return this.#start(ep, args, headers, timeout, limits);
    });
  }

  /** Runs one worker in a slot already taken; the slot is given back when it ends. */
  #start(
    ep: EntrypointMeta,
    args: unknown[],
    headers: Partial<CallHeaders> | undefined,
    timeout: number | undefined,
    limits: WorkerLimits | undefined,
  ): unknown {
    this.#pool.started();
    let ctx: WorkerContext;
    try {
      ctx = new WorkerContext({
        service: this.name,
        method: ep.kind === 'rpc' ? ep.name : ep.method,
        kind: ep.kind,
        headers,
        timeout,
        cancel: limits?.cancel,
        ...(limits?.spanId === undefined ? {} : { spanId: limits.spanId }),
        ...argumentsOf(ep, args),
      });
      const tracer = this.options.tracer;
      if (tracer) {
        const span = tracer.start(workerSpan(this.name, ep, ctx, args));
        ctx.span = span;
        ctx.traceFlags = span.traceFlags;
        watchOutcome(ctx, ep, args);
      }
    } catch (err) {
      this.#pool.ended();
      throw err;
    }
    return runInContext(ctx, () => this.#workers.run(ep, ctx, args));
  }
}

/**
 * The arguments a worker shows (plugins, logs, spans): an RPC method's
 * parameters and an event's body, redacted as the method declares; made
 * only when something reads them.
 */
function argumentsOf(ep: EntrypointMeta, args: readonly unknown[]): { args?: () => unknown } {
  if (ep.kind === 'rpc') {
    const sensitive = ep.options.sensitive;
    const params = args[0];
    return {
      args: sensitive && sensitive.length > 0 ? () => redact(params, sensitive) : () => params,
    };
  }
  if (ep.kind === 'event') {
    const body = args[0];
    return { args: () => body };
  }
  return {};
}
