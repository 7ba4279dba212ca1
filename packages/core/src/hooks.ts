import type { WorkerContext } from './context.js';
import { UsageError } from './errors.js';

/** What `onHttpRequest` sees of a finished HTTP request. */
export interface HttpRequestInfo {
  method: string;
  path: string;
  status: number;
  durationMs: number;
  traceId: string;
}

/** Plugin hooks: a closed list, checked when a plugin is added (fastify's way). */
export interface Plugin {
  name?: string;
  /** an entrypoint failed with an unexpected error */
  onError?(error: unknown, worker: WorkerContext): void | Promise<void>;
  /** an HTTP request was answered */
  onHttpRequest?(info: HttpRequestInfo): void | Promise<void>;
  /** a worker is about to run */
  onWorkerStart?(worker: WorkerContext): void | Promise<void>;
  /** a worker finished; `error` is undefined on success */
  onWorkerEnd?(
    worker: WorkerContext,
    result: { error?: unknown; durationMs: number },
  ): void | Promise<void>;
  /** a service container started */
  onServiceStart?(service: string): void | Promise<void>;
  /** a service container is stopping */
  onServiceStop?(service: string): void | Promise<void>;
}

export const HOOK_NAMES = [
  'onError',
  'onHttpRequest',
  'onWorkerStart',
  'onWorkerEnd',
  'onServiceStart',
  'onServiceStop',
] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** The plugins of an instance; hooks run in the order plugins were added, and a failing hook never breaks a call. */
export class Hooks {
  readonly #plugins: Plugin[] = [];
  // Hooks some plugin implements, so that callers skip the await when none does.
  readonly #present = new Set<HookName>();
  #onHookError: (hook: string, err: unknown) => void = () => {};

  add(plugin: Plugin): void {
    for (const key of Object.keys(plugin)) {
      if (key === 'name') continue;
      if (!(HOOK_NAMES as readonly string[]).includes(key)) {
        throw new UsageError(
          `plugin ${plugin.name ?? '(unnamed)'}: unknown hook "${key}" (hooks: ${HOOK_NAMES.join(', ')})`,
        );
      }
      if (typeof (plugin as Record<string, unknown>)[key] !== 'function') {
        throw new UsageError(
          `plugin ${plugin.name ?? '(unnamed)'}: hook "${key}" must be a function`,
        );
      }
    }
    this.#plugins.push(plugin);
    for (const hook of HOOK_NAMES) if (typeof plugin[hook] === 'function') this.#present.add(hook);
  }

  /** Whether any plugin implements `hook` (the worker path skips awaiting hooks nobody has). */
  has(hook: HookName): boolean {
    return this.#present.has(hook);
  }

  /** Where a hook's own failure is reported (the instance logs it). */
  onHookError(fn: (hook: string, err: unknown) => void): void {
    this.#onHookError = fn;
  }

  get size(): number {
    return this.#plugins.length;
  }

  async run<K extends HookName>(
    hook: K,
    ...args: Parameters<NonNullable<Plugin[K]>>
  ): Promise<void> {
    for (const plugin of this.#plugins) {
      const fn = plugin[hook] as ((...a: unknown[]) => unknown) | undefined;
      if (!fn) continue;
      try {
        await fn.apply(plugin, args);
      } catch (err) {
        this.#onHookError(`${plugin.name ?? 'plugin'}.${hook}`, err);
      }
    }
  }
}
