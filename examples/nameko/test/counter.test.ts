// The dependency injection example: Counter on a real Redis through RedisProvider,
// configured by the example's own conf/counter.yml.
import { BackendError, ConfigError, loadInstanceConfig, type InstanceConfig } from '@svc/core';
import { testCluster, workerFactory } from '@svc/core/testing';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Counter } from '../services/counter.js';
import { testRedis, type TestRedis } from './support/redis.js';

const CONF = fileURLToPath(new URL('../conf/counter.yml', import.meta.url));
let redis: TestRedis;

beforeAll(async () => {
  redis = await testRedis();
});
afterAll(() => redis?.stop());

/** conf/counter.yml as `svc instance` would read it, pointed at the test's Redis and key prefix. */
function counterConfig(env: Record<string, string> = {}): Partial<InstanceConfig> {
  const cfg = loadInstanceConfig(CONF, {
    REDIS_PORT: String(redis.port),
    COUNTER_KEY_PREFIX: redis.prefix,
    ...env,
  });
  return { file: cfg.file, dir: cfg.dir, interfaces: cfg.interfaces, raw: cfg.raw };
}

async function clientsNamed(name: string): Promise<number> {
  const list = (await redis.client.client('LIST')) as string;
  return list.split('\n').filter((line) => line.includes(` name=${name} `)).length;
}

describe('Counter on Redis', () => {
  it('counts per key in Redis, under the configured key prefix', async () => {
    await using cluster = await testCluster([Counter], { config: counterConfig() });
    const counter = cluster.client.rpc.Counter;
    expect(await counter.get({ key: 'visits' })).toBe(0);
    expect(await counter.incr({ key: 'visits' })).toBe(1);
    expect(await counter.incr({ key: 'visits' })).toBe(2);
    expect(await counter.incr({ key: 'other' })).toBe(1);
    expect(await counter.get({ key: 'visits' })).toBe(2);
    expect(await redis.client.get(`${redis.prefix}visits`)).toBe('2');
  });

  it('sets the expiry it reads through the Config dependency', async () => {
    await using cluster = await testCluster([Counter], {
      config: counterConfig({ COUNTER_TTL: '120' }),
    });
    await cluster.client.rpc.Counter.incr({ key: 'ttl' });
    const ttl = await redis.client.ttl(`${redis.prefix}ttl`);
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120);
  });

  it('connects when the service starts and quits when it stops', async () => {
    const name = `${redis.prefix.replace(/:/g, '-')}conn`;
    const cluster = await testCluster([Counter], {
      config: counterConfig({ COUNTER_CONNECTION_NAME: name }),
    });
    try {
      expect(await clientsNamed(name)).toBe(1);
      expect(cluster.logs.map((r) => r.msg)).toContain('redis connected (cache_client)');
    } finally {
      await cluster.stop();
    }
    await expect.poll(() => clientsNamed(name)).toBe(0);
  });

  it('drops its connection at once when killed, and a second kill does not throw', async () => {
    const name = `${redis.prefix.replace(/:/g, '-')}kill`;
    await using cluster = await testCluster([Counter], {
      config: counterConfig({ COUNTER_CONNECTION_NAME: name }),
    });
    expect(await clientsNamed(name)).toBe(1);
    const instance = cluster.instances[0]!;
    await instance.kill();
    await expect(instance.kill()).resolves.toBeUndefined();
    await expect.poll(() => clientsNamed(name)).toBe(0);
  });

  it('fails to start, with the reason, when Redis cannot be reached', async () => {
    const closed = await (async () => {
      const { createServer } = await import('node:net');
      const server = createServer();
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const { port } = server.address() as { port: number };
      await new Promise((r) => server.close(r));
      return port;
    })();
    await expect(
      testCluster([Counter], { config: counterConfig({ REDIS_PORT: String(closed) }) }),
    ).rejects.toThrow(
      new BackendError(
        `redis (cache_client) at 127.0.0.1:${closed}: connect ECONNREFUSED 127.0.0.1:${closed}`,
      ),
    );
  });

  it('names the config key when cache_client is missing', async () => {
    const cfg = counterConfig();
    const iface = cfg.interfaces![0]!;
    const { cache_client: _dropped, ...options } = iface.options;
    await expect(
      testCluster([Counter], { config: { ...cfg, interfaces: [{ ...iface, options }] } }),
    ).rejects.toThrow(ConfigError);
  });
});

describe('Counter, alone', () => {
  it('reads a missing counter as 0 from whatever client it is given', async () => {
    const worker = workerFactory(Counter, {
      deps: { cache: { get: async () => null } },
    });
    expect(await worker.service.get({ key: 'nothing' })).toBe(0);
  });
});
