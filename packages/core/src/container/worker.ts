import type { Caller } from '../client.js';
import type { ConfigView } from '../config/view.js';
import type { WorkerContext } from '../context.js';
import type { EntrypointMeta } from '../decorators.js';
import { UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Metrics } from '../metrics.js';
import type { ItemSource } from '../rpc/transport.js';
import { BINDING, type Service, type ServiceBinding } from '../service.js';
import { elapsedMs, isThenable } from '../sync.js';
import type { ServiceContainer } from './container.js';
import { WorkerStream, type StreamOutcome } from './stream.js';
import { isExpected, OutcomeReporter, type WorkerObserver } from './outcome.js';

export type { StreamOutcome } from './stream.js';
export type { WorkerObserver, WorkerOutcome } from './outcome.js';

type RpcEp = Extract<EntrypointMeta, { kind: 'rpc' }>;

/**
 * The run of one worker, once it holds a slot: a fresh service object, its
 * dependencies and worker hooks around the method, then the outcome told
 * to providers, metrics, the log and observers. `ended` gives the slot back.
 * A streaming method's worker runs until its stream is over.
 */
export class WorkerRunner {
  readonly #container: ServiceContainer;
  readonly #ended: (ctx: WorkerContext) => void;
  readonly #outcomes: OutcomeReporter;

  constructor(container: ServiceContainer, ended: (ctx: WorkerContext) => void) {
    this.#container = container;
    this.#ended = ended;
    this.#outcomes = new OutcomeReporter(container);
  }

  /** Calls `observer` after every worker; returns the function that stops it. */
  observe(observer: WorkerObserver): () => void {
    return this.#outcomes.observe(observer);
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
    if (ep.kind === 'rpc' && ep.stream) return this.#runStream(ep, ctx, args, plain);
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
        this.#outcomes.report(ep, ctx, elapsedMs(started), undefined, err, true);
      } finally {
        this.#ended(ctx);
      }
      throw err;
    }
    if (!isThenable(result) && binding.pending === undefined && !isStreamLike(ep, result)) {
      const durationMs = elapsedMs(started);
      this.#ended(ctx);
      // Told once the code that ran the worker is done: a transport writes
      // its reply first, so the caller has its answer while the record is
      // made (at one call in flight the record was on the reply's way), and
      // still before anything awaiting the worker in this process goes on.
      // One microtask for all the workers of a turn: in Node.js each
      // queueMicrotask makes an AsyncResource, which AsyncLocalStorage's hooks see.
      if (this.#late.push(ep, ctx, durationMs, result) === 4) queueMicrotask(this.#reportLate);
      return result;
    }
    return this.#settlePlain(ep, ctx, started, result, binding);
  }

  /** The workers that finished at once and are not reported yet: entrypoint, context, duration, result. */
  #late: unknown[] = [];
  readonly #reportLate = (): void => {
    const late = this.#late;
    this.#late = [];
    for (let i = 0; i < late.length; i += 4) {
      try {
        this.#outcomes.report(
          late[i] as EntrypointMeta,
          late[i + 1] as WorkerContext,
          late[i + 2] as number,
          late[i + 3],
          undefined,
          false,
        );
      } catch (err) {
        // Nothing waits on it any more: an observer's error is logged, not thrown.
        this.#container.log.error(`reporting a worker failed: ${(err as Error).message}`);
      }
    }
  };

  /**
   * The end of a plain worker that returned a promise (or left deferred
   * calls running). With `then`, not `async`/`await`: under
   * AsyncLocalStorage's hooks (Node.js before 24) an async function's
   * promise and each `await`'s own cost hook calls on every call.
   */
  #settlePlain(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    started: number,
    returned: unknown,
    binding: WorkerBinding,
  ): Promise<unknown> {
    const settle = (result: unknown, error: unknown, failed: boolean): unknown => {
      try {
        this.#outcomes.report(ep, ctx, elapsedMs(started), result, error, failed);
      } finally {
        this.#ended(ctx);
      }
      if (failed) throw error;
      return result;
    };
    const fail = (err: unknown) => settle(undefined, err, true);
    const done = (result: unknown): unknown => {
      try {
        checkResult(ep, result);
      } catch (err) {
        return fail(err);
      }
      if (!binding.pending) return settle(result, undefined, false);
      return Promise.allSettled(binding.pending).then(() => settle(result, undefined, false));
    };
    // A native promise is followed as it is; anything else (a foreign thenable, a value) through one.
    return (returned instanceof Promise ? returned : Promise.resolve(returned)).then(done, fail);
  }

  async #run(ep: EntrypointMeta, ctx: WorkerContext, args: unknown[]): Promise<unknown> {
    const container = this.#container;
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
      if (providers || hooks.has('onWorkerStart')) await this.#setUp(obj, ctx);
      const method = obj[ep.method] as (...a: unknown[]) => unknown;
      result = method.apply(obj, args);
      if (isThenable(result)) result = await result;
      checkResult(ep, result);
      if (binding.pending) await Promise.allSettled(binding.pending);
    } catch (err) {
      error = err;
      failed = true;
    }
    await this.#finish(ep, ctx, elapsedMs(started), result, error, failed);
    if (failed) throw error;
    return result;
  }

  /** A worker's dependencies in their fields, then the `onWorkerStart` hooks. */
  async #setUp(obj: Record<string, unknown>, ctx: WorkerContext): Promise<void> {
    const container = this.#container;
    for (const p of container.providers.values()) await p.workerSetup(ctx);
    for (const [attr, p] of container.providers) obj[attr] = await p.getDependency(ctx);
    const hooks = container.options.hooks;
    if (hooks.has('onWorkerStart')) await hooks.run('onWorkerStart', ctx);
  }

  /**
   * The end of a worker with providers or worker hooks: providers hear
   * of the outcome, it is reported, hooks run, providers tear down, and
   * the slot is given back (even when a hook throws, which this rethrows).
   */
  async #finish(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    durationMs: number,
    result: unknown,
    error: unknown,
    failed: boolean,
    stream?: StreamOutcome,
  ): Promise<void> {
    const container = this.#container;
    const hooks = container.options.hooks;
    const providers = container.providers.size > 0;
    try {
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
      this.#outcomes.report(ep, ctx, durationMs, result, error, failed, stream);
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
    } finally {
      this.#ended(ctx);
    }
  }

  /**
   * A streaming method's worker: the method's generator, made as any
   * worker's method is called (dependencies, hooks), handed out as the
   * items of its stream. The worker holds its slot until the stream is
   * over, and is reported once, with how many items it gave.
   */
  #runStream(
    ep: RpcEp,
    ctx: WorkerContext,
    args: unknown[],
    plain: boolean,
  ): ItemSource | Promise<ItemSource> {
    const container = this.#container;
    const started = performance.now();
    const binding = new WorkerBinding(container, true);
    const finish = (error: unknown, failed: boolean, outcome: StreamOutcome): Promise<void> => {
      const durationMs = elapsedMs(started);
      if (!plain) return this.#finish(ep, ctx, durationMs, undefined, error, failed, outcome);
      try {
        this.#outcomes.report(ep, ctx, durationMs, undefined, error, failed, outcome);
      } finally {
        this.#ended(ctx);
      }
      return Promise.resolve();
    };
    const generator = (obj: Record<string, unknown>): WorkerStream => {
      const made = (obj[ep.method] as (...a: unknown[]) => unknown).apply(obj, args);
      if (!isAsyncIterator(made)) {
        throw new UsageError(`${container.name}.${ep.name} did not return an async generator`);
      }
      return new WorkerStream(made, ctx, binding, finish, container.log);
    };
    if (plain) {
      try {
        return generator(
          newServiceObject(container, binding) as unknown as Record<string, unknown>,
        );
      } catch (err) {
        void finish(err, true, { items: 0 });
        throw err;
      }
    }
    return (async () => {
      try {
        const obj = newServiceObject(container, binding) as unknown as Record<string, unknown>;
        await this.#setUp(obj, ctx);
        return generator(obj);
      } catch (err) {
        await finish(err, true, { items: 0 });
        throw err;
      }
    })();
  }
}

function isAsyncIterator(value: unknown): value is AsyncIterator<unknown, unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { next?: unknown }).next === 'function' &&
    Symbol.asyncIterator in value
  );
}

/** Whether a plain RPC method gave what only a stream can carry (checked only when it needs to be). */
function isStreamLike(ep: EntrypointMeta, result: unknown): boolean {
  return (
    ep.kind === 'rpc' &&
    typeof result === 'object' &&
    result !== null &&
    Symbol.asyncIterator in result
  );
}

/**
 * A plain RPC method's result that would reach its caller as `{}`: an
 * async iterable (a method that returns a generator instead of being one).
 */
function checkResult(ep: EntrypointMeta, result: unknown): void {
  if (isStreamLike(ep, result)) {
    throw new UsageError(
      `${ep.method}() returned an async iterable, which a plain RPC method cannot send: make it \`async *${ep.method}()\` to stream its items`,
    );
  }
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
