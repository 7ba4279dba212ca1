import { Config, RPC, Service, inject, rpc, t } from '@svc/core';
import { RedisProvider } from './providers/redis.js';

/** Nameko's dependency injection: a service whose state lives in Redis. */
export class Counter extends Service {
  static override readonly serviceName = 'Counter';
  declare [RPC]: 'incr' | 'get';

  /** a Redis client, built from `cache_client` in the config */
  cache = inject(new RedisProvider('cache_client'));
  /** this instance's config, as a dependency */
  settings = inject(new Config());

  /** Adds one to a counter and returns its new value */
  @rpc({ params: { key: t.string('counter name') } })
  async incr({ key }: { key: string }) {
    const value = await this.cache.incr(key);
    // `ttl_seconds: ${COUNTER_TTL:-86400}` is read as a number, as Nameko reads it
    const ttl = this.settings.get('ttl_seconds', 0);
    if (ttl > 0) await this.cache.expire(key, ttl);
    return value;
  }

  /** The current value of a counter (0 when it was never incremented) */
  @rpc({ params: { key: t.string('counter name') } })
  async get({ key }: { key: string }) {
    return Number((await this.cache.get(key)) ?? 0);
  }
}
