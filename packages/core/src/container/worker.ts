import type { Caller } from '../client.js';
import type { ConfigView } from '../config/view.js';
import type { WorkerContext } from '../context.js';
import type { EntrypointMeta } from '../decorators.js';
import { SvcError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics.js';
import { BINDING, type Service, type ServiceBinding } from '../service.js';
import { elapsedMs, isThenable } from '../sync.js';
import type { ServiceContainer } from './container.js';

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

/**
 * The run of one worker, once it holds a slot: a fresh service object, its
 * dependencies and worker hooks around the method, then the outcome told
 * to providers, metrics, the log and observers. `ended` gives the slot back.
 */
export class WorkerRunner {
  readonly #container: ServiceContainer;
  readonly #ended: () => void;
  readonly #observers = new Set<WorkerObserver>();
  readonly #epNames = new Map<EntrypointMeta, string>();

  constructor(container: ServiceContainer, ended: () => void) {
    this.#container = container;
    this.#ended = ended;
  }

  /** Calls `observer` after every worker; returns the function that stops it. */
  observe(observer: WorkerObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /**
   * Runs the method in the current worker context: its result, or a promise
   * of it when it did not finish synchronously; throws its error.
   */
  run(ep: EntrypointMeta, ctx: WorkerContext, args: unknown[]): unknown {
    const hooks = this.#container.options.hooks;
    const plain =
      this.#container.providers.size === 0 &&
      !hooks.has('onWorkerStart') &&
      !hooks.has('onWorkerEnd') &&
      !hooks.has('onError');
    return plain ? this.#runPlain(ep, ctx, args) : this.#run(ep, ctx, args);
  }

  /**
   * A worker with nothing around its method (no providers, no worker hooks):
   * a method that returns a plain value and starts no emits it leaves
   * unawaited ends here, without a promise.
   */
  #runPlain(ep: EntrypointMeta, ctx: WorkerContext, args: unknown[]): unknown {
    const started = performance.now();
    const binding = new WorkerBinding(this.#container, true);
    let result: unknown;
    try {
      const obj = newServiceObject(this.#container, binding) as unknown as Record<string, unknown>;
      result = (obj[ep.method] as (...a: unknown[]) => unknown).apply(obj, args);
    } catch (err) {
      try {
        this.#report(ep, ctx, elapsedMs(started), undefined, err, true);
      } finally {
        this.#ended();
      }
      throw err;
    }
    if (!isThenable(result) && binding.pending === undefined) {
      try {
        this.#report(ep, ctx, elapsedMs(started), result, undefined, false);
      } finally {
        this.#ended();
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
      this.#ended();
    }
    if (failed) throw error;
    return result;
  }

  async #run(ep: EntrypointMeta, ctx: WorkerContext, args: unknown[]): Promise<unknown> {
    const container = this.#container;
    try {
      const started = performance.now();
      const binding = new WorkerBinding(container, true);
      const hooks = container.options.hooks;
      // Only hooks and no providers (or the other way round): each await
      // skipped is a turn of the microtask queue on every call.
      const providers = container.providers.size > 0;
      let result: unknown;
      let error: unknown;
      let failed = false;
      try {
        const obj = newServiceObject(container, binding) as unknown as Record<string, unknown>;
        if (providers) {
          for (const p of container.providers.values()) await p.workerSetup(ctx);
          for (const [attr, p] of container.providers) obj[attr] = await p.getDependency(ctx);
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
        for (const p of container.providers.values()) {
          try {
            await p.workerResult(ctx, result, error);
          } catch (err) {
            container.log.error(
              `dependency ${p.attrName} failed in workerResult: ${(err as Error).message}`,
            );
          }
        }
      }
      this.#report(ep, ctx, durationMs, result, error, failed);
      if (failed && hooks.has('onError') && !isExpected(ep, error))
        await hooks.run('onError', error, ctx);
      if (hooks.has('onWorkerEnd'))
        await hooks.run('onWorkerEnd', ctx, failed ? { error, durationMs } : { durationMs });
      if (providers) {
        for (const p of container.providers.values()) {
          try {
            await p.workerTeardown(ctx);
          } catch (err) {
            container.log.error(
              `dependency ${p.attrName} failed in workerTeardown: ${(err as Error).message}`,
            );
          }
        }
      }
      if (failed) throw error;
      return result;
    } finally {
      this.#ended();
    }
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
    this.#container.options.metrics.record(this.#entrypointName(ep), ep.kind, durationMs, failed);
    this.#logOutcome(ep, ctx, durationMs, failed, error);
    if (this.#observers.size > 0) {
      for (const observe of this.#observers)
        observe({ ep, ctx, result, error, failed, durationMs });
    }
  }

  /** `Service.method`, built once per entrypoint rather than on every call. */
  #entrypointName(ep: EntrypointMeta): string {
    let name = this.#epNames.get(ep);
    if (name === undefined) {
      name = `${this.#container.name}.${ep.kind === 'rpc' ? ep.name : ep.method}`;
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
    const { log, name } = this.#container;
    const expected = failed && isExpected(ep, error);
    // Built only when kept: a worker's record costs more than a small worker.
    if (log.enabled?.(failed ? (expected ? 'warn' : 'error') : 'info') === false) return;
    const fields = {
      kind: ep.kind,
      entrypoint: `${name}.${ctx.method}`,
      duration_ms: durationMs,
    };
    if (!failed) {
      log.info(`${ep.kind} ${name}.${ctx.method} ok`, fields);
      return;
    }
    const err = error as Error;
    const errFields = {
      ...fields,
      error: err?.name ?? typeof error,
      error_message: err?.message ?? String(error),
    };
    if (expected) {
      log.warn(`${ep.kind} ${name}.${ctx.method} failed: ${errFields.error_message}`, errFields);
    } else {
      log.error(`${ep.kind} ${name}.${ctx.method} failed: ${errFields.error_message}`, {
        ...errFields,
        stack: err?.stack,
      });
    }
  }
}

/**
 * Whether a worker's error is part of its method's contract rather than a
 * fault: its class says so (a ValidationError, an HttpError below 500), or
 * the entrypoint declares it (`expected: [NotFound]`).
 */
function isExpected(ep: EntrypointMeta, error: unknown): boolean {
  if (error instanceof SvcError && error.expected) return true;
  return (ep.options.expected ?? []).some((cls) => error instanceof cls);
}

/** A fresh service object of the container's class, bound to `binding`. */
export function newServiceObject(container: ServiceContainer, binding: WorkerBinding): Service {
  const obj = new container.cls();
  // A plain assignment: defineProperty was a runtime call on every worker.
  obj[BINDING] = binding;
  return obj;
}

/**
 * What one service object is bound to: the container's surfaces, and the
 * emits its worker started without awaiting them (the worker waits for
 * those before it ends). One small object per worker, its methods shared.
 */
export class WorkerBinding implements ServiceBinding {
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
