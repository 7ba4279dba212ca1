import type { WorkerContext } from './context.js';
import type { Logger } from './log/logger.js';
import type { ConfigView } from './config/view.js';

/** What a provider may see of the container that runs it. */
export interface ProviderHost {
  readonly serviceName: string;
  /** the service's config section and the instance's whole config */
  readonly config: ConfigView;
  readonly log: Logger;
}

/**
 * A dependency provider, with Nameko's lifecycle: the container calls
 * `setup` and `start` before any worker runs and `stop` after the last one
 * (or `kill`, which must not throw); each worker gets `getDependency`'s
 * value in the field that declared the provider, and the provider sees
 * the worker start (`workerSetup`), end (`workerResult`) and go
 * (`workerTeardown`).
 *
 *   class Greeting extends Service {
 *     cache = inject(new RedisProvider());
 *   }
 */
export abstract class DependencyProvider<T = unknown> {
  /** the container running this provider; set before `setup` */
  host!: ProviderHost;
  /** name of the service field that holds this provider */
  attrName!: string;

  setup(): void | Promise<void> {}
  start(): void | Promise<void> {}
  stop(): void | Promise<void> {}
  kill(): void | Promise<void> {}
  abstract getDependency(worker: WorkerContext): T | Promise<T>;
  workerSetup(_worker: WorkerContext): void | Promise<void> {}
  workerResult(_worker: WorkerContext, _result: unknown, _error: unknown): void | Promise<void> {}
  workerTeardown(_worker: WorkerContext): void | Promise<void> {}
}

/**
 * Declares a dependency field, typed as what the provider gives each
 * worker: `cache = inject(new RedisProvider())` makes `this.cache` a Redis
 * client inside entrypoints.
 */
export function inject<T>(provider: DependencyProvider<T>): T {
  return provider as unknown as T;
}

/** The instance's configuration, as a dependency: `config = inject(new Config())`. */
export class Config extends DependencyProvider<ConfigView> {
  getDependency(): ConfigView {
    return this.host.config;
  }
}
