// Smoke test of the Nameko examples: each one started with the real
// `svc instance` in a private cluster, then one real call each through the CLI or HTTP.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadInstanceConfig } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testRedis, type TestRedis } from '../../examples/nameko/test/support/redis.js';
import { REPO, TestEnv, ownInterface, requireBuild, type Proc } from '../support/svc.js';

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
  httpUrl = /http (http:\/\/[^\s,)]+)/.exec(started.msg)![1]!;
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

  it('inspects every example service with the docs of its source, methods and parameters', async () => {
    const names = [
      'helloworld',
      'greeter',
      'Counter',
      'ServiceA',
      'ServiceB',
      'http_service',
      'ticker',
    ];
    const outputs = await Promise.all(names.map((name) => svc(['inspect', name])));
    const described = new Map(names.map((name, i) => [name, ownInterface(outputs[i]!.stdout)]));
    const inspect = (service: string) => described.get(service);
    expect(inspect('helloworld')).toEqual([
      'RPC interface of helloworld',
      "  Nameko's example 2: the helloworld service.",
      '',
      'rpc helloworld.hello(name: string)',
      '    Says hello to a name',
      '    - name: who to greet',
    ]);
    expect(inspect('greeter')).toEqual([
      'RPC interface of greeter',
      "  A second service that calls helloworld over RPC, as Nameko's RpcProxy",
      "  does. In its own file it would import HelloWorld's type only:",
      "  `import type { HelloWorld } from './helloworld.js'`.",
      '',
      'rpc greeter.greet(name: string)',
      '    Greets one name through helloworld',
      '    - name: who to greet',
      'rpc greeter.greet_all(names: string[])',
      "    Greets every name at once: all calls start first (Nameko's call_async), then their replies are collected",
      '    - names: everybody to greet',
    ]);
    expect(inspect('Counter')).toEqual([
      'RPC interface of Counter',
      "  Nameko's dependency injection: a service whose state lives in Redis.",
      '',
      'rpc Counter.get(key: string)',
      '    The current value of a counter (0 when it was never incremented)',
      '    - key: counter name',
      'rpc Counter.incr(key: string)',
      '    Adds one to a counter and returns its new value',
      '    - key: counter name',
    ]);
    expect(inspect('ServiceA')).toEqual([
      'RPC interface of ServiceA',
      "  Nameko's example 3, the emitting side.",
      '',
      'rpc ServiceA.emit_an_event(payload?: any)',
      '    Emits my_event_type with the given payload',
      '    - payload: event body',
    ]);
    expect(inspect('ServiceB')).toEqual([
      'RPC interface of ServiceB',
      "  Nameko's example 3, the handling side.",
      '',
      'rpc ServiceB.last_received()',
      '    The payload this instance handled last (from its in-process cache)',
      '',
      'Events handled',
      'event ServiceA.my_event_type -> ServiceB.handle_an_event (pool)',
      "    Handles my_event_type emitted by ServiceA only (Nameko's event_handler('ServiceA', 'my_event_type'))",
      'event cache_invalidated -> ServiceB.invalidate_cache (broadcast)',
      '    Every instance clears its in-process cache (a broadcast: each instance gets the event)',
    ]);
    expect(inspect('http_service')).toEqual([
      'RPC interface of http_service',
      "  Nameko's example 1: HTTP routes with path variables and a POST that reads the body.",
      '',
      '',
      'HTTP routes',
      'http GET /get/:value -> http_service.get_method',
      '    GET /get/<int:value>: answers the value back as JSON',
      'http POST /post -> http_service.do_post',
      '    POST /post: echoes the JSON body',
    ]);
    expect(inspect('ticker')).toEqual([
      'RPC interface of ticker',
      "  Nameko's example 4: something to do every second, forever.",
      '',
      '',
      'Timers',
      'timer every 1000 ms (eager) -> ticker.ping',
      '    Runs at start, then every second; counts its runs in the `ticks` metric',
    ]);
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
