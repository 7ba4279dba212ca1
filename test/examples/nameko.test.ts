// Smoke test of the Nameko examples: each one started with the real
// `svc instance` in a private cluster, then one real call each through the CLI or HTTP.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInstanceConfig } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../examples/nameko/test/support/redis.js';
import { REPO, TestEnv, requireBuild, type Proc } from '../support/svc.js';

const DIR = join(REPO, 'examples/nameko');
const env = new TestEnv();
let redis: TestRedis;
const procs: Record<string, Proc> = {};
let httpUrl: string;

const svc = (args: string[]) => env.run(args, { cwd: DIR });
const logsOf = (name: string) => procs[name]!.logs().map((l) => l.msg);

beforeAll(async () => {
  requireBuild();
  redis = await testRedis();
  const start = async (name: string, extra: Record<string, string> = {}) => {
    procs[name] = await env.instance(`conf/${name}.yml`, { cwd: DIR, env: extra });
  };
  await Promise.all([
    start('http', { HTTP_PORT: '0' }),
    start('rpc'),
    start('events'),
    start('timer'),
    start('counter', { REDIS_PORT: String(redis.port), COUNTER_KEY_PREFIX: redis.prefix }),
  ]);
  const started = procs['http']!.logs().find((l) => l.msg.startsWith('started http_service'))!;
  httpUrl = /http (http:\/\/[^\s)]+)/.exec(started.msg)![1]!;
}, 60_000);

afterAll(async () => {
  await env.stop();
  await redis?.stop();
});

describe('the Nameko examples under svc instance', () => {
  it('HTTP: answers GET /get/<int> and echoes POST /post', async () => {
    const res = await fetch(`${httpUrl}/get/42`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ value: 42 });
    const bad = await fetch(`${httpUrl}/get/forty-two`);
    expect(bad.status).toBe(400);
    const echo = await fetch(`${httpUrl}/post`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"hello": "world"}',
    });
    expect(await echo.json()).toEqual({ hello: 'world' });
  });

  it('RPC: greeter calls helloworld, deferred calls included', async () => {
    expect(await svc(['request', 'helloworld.hello', '{"name": "John"}'])).toMatchObject({
      code: 0,
      stdout: "'Hello, John!'\n",
    });
    const all = await svc(['request', '--json', 'greeter.greet_all', '{"names": ["Ann", "Bob"]}']);
    expect(all).toMatchObject({ code: 0, stdout: '["Hello, Ann!","Hello, Bob!"]\n' });
  });

  it('events: ServiceB handles the event ServiceA emits, and a broadcast clears its cache', async () => {
    const emitted = await svc(['request', 'ServiceA.emit_an_event', '{"payload": "smoke"}']);
    expect(emitted).toMatchObject({ code: 0, stdout: "'emitted'\n" });
    await expect.poll(() => logsOf('events')).toContain('service b received "smoke"');
    expect((await svc(['request', '--json', 'ServiceB.last_received'])).stdout).toBe('"smoke"\n');
    expect((await svc(['emit', 'cache_invalidated'])).code).toBe(0);
    await expect.poll(() => logsOf('events')).toContain('cache cleared (1 entries dropped)');
    expect((await svc(['request', '--json', 'ServiceB.last_received'])).stdout).toBe('null\n');
  });

  it('timer: ticks on its own and reports the ticks metric', async () => {
    await expect.poll(() => logsOf('timer')).toContain('tick');
    const { code, stdout } = await svc(['request', '--json', 'ticker.svc.get_metrics']);
    expect(code).toBe(0);
    const metrics = JSON.parse(stdout) as { custom: Record<string, number> };
    expect(metrics.custom['ticks']).toBeGreaterThanOrEqual(1);
  });

  it('dependency injection: Counter keeps its counts in Redis', async () => {
    await redis.client.set(`${redis.prefix}smoke`, '41');
    expect(await svc(['request', 'Counter.incr', '{"key": "smoke"}'])).toMatchObject({
      code: 0,
      stdout: '42\n',
    });
    expect(await redis.client.get(`${redis.prefix}smoke`)).toBe('42');
    expect(logsOf('counter')).toContain('redis connected (cache_client)');
  });

  it('dependency injection: an unreachable Redis stops the instance at start with one clear line', async () => {
    const { code, stderr } = await env.run(['instance', '--config', 'conf/counter.yml'], {
      cwd: DIR,
      env: { REDIS_PORT: '1' },
    });
    expect(code).toBe(1);
    expect(
      stderr
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('{')),
    ).toEqual(['svc: redis (cache_client) at 127.0.0.1:1: connect ECONNREFUSED 127.0.0.1:1']);
  });

  it('lists in .svc.yml every example, each config readable', () => {
    const text = readFileSync(join(DIR, '.svc.yml'), 'utf8');
    const configs = [...text.matchAll(/--config=(\S+)/g)].map((m) => m[1]!);
    expect(configs.sort()).toEqual(
      Object.keys(procs)
        .map((n) => `conf/${n}.yml`)
        .sort(),
    );
    for (const config of configs) {
      expect(loadInstanceConfig(join(DIR, config), {}).interfaces.length).toBeGreaterThan(0);
    }
  });

  it('stops every example cleanly on SIGTERM', async () => {
    for (const p of Object.values(procs)) p.child.kill('SIGTERM');
    const exits = await Promise.all(Object.values(procs).map((p) => p.exited));
    expect(exits.map((e) => e.code)).toEqual([0, 0, 0, 0, 0]);
  });
});
