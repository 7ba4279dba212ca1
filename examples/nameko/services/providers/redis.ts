import { once } from 'node:events';
import { BackendError, DependencyProvider, UsageError } from '@svc/core';
import type { Redis } from 'ioredis';

/**
 * A Redis client as a dependency, built from config the lymph way:
 *
 *   cache_client:
 *     class: ioredis#Redis
 *     host: 127.0.0.1
 *     port: 6379
 *
 * One client per running service, shared by its workers (ioredis
 * pipelines concurrent commands over one connection). It connects in
 * `start()`, so an unreachable Redis fails the instance at start rather
 * than its first call; `stop()` quits after the last worker ended.
 */
export class RedisProvider extends DependencyProvider<Redis> {
  readonly #key: string;
  #client: Redis | undefined;
  /** why the connection last failed: ioredis's own rejection only says "Connection is closed." */
  #lastError: string | undefined;

  /** `key`: where the client's config is, in the service's section or the whole file. */
  constructor(key = 'cache_client') {
    super();
    this.#key = key;
  }

  override async setup(): Promise<void> {
    const client = await this.host.config.getInstance<Redis>(this.#key);
    // ioredis prints errors nobody listens to; log the first of each outage instead.
    let down = false;
    client.on('error', (err: Error) => {
      this.#lastError = err.message;
      if (down) return;
      down = true;
      this.host.log.warn(`redis (${this.#key}): ${err.message}`);
    });
    client.on('ready', () => (down = false));
    this.#client = client;
  }

  override async start(): Promise<void> {
    const client = this.#requireClient();
    // A lazyConnect client waits for connect(); any other is already on its way
    // (once() rejects on the client's first 'error').
    try {
      if (client.status === 'wait') await client.connect();
      else if (client.status !== 'ready') await once(client, 'ready');
    } catch (err) {
      // The instance fails to start with this one line; the container then kills us.
      throw new BackendError(
        `redis (${this.#key}) at ${client.options.host}:${client.options.port}: ${this.#lastError ?? (err as Error).message}`,
        { cause: err },
      );
    }
    this.host.log.info(`redis connected (${this.#key})`, {
      host: client.options.host,
      port: client.options.port,
    });
  }

  getDependency(): Redis {
    return this.#requireClient();
  }

  override async stop(): Promise<void> {
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    try {
      await client.quit();
    } catch {
      // An already broken connection cannot say goodbye: drop it.
      client.disconnect();
    }
  }

  override kill(): void {
    const client = this.#client;
    this.#client = undefined;
    try {
      client?.disconnect();
    } catch {
      // kill never throws.
    }
  }

  #requireClient(): Redis {
    if (!this.#client)
      throw new UsageError(`RedisProvider(${this.#key}) is not set up or already stopped`);
    return this.#client;
  }
}
