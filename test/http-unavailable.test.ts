// An @http route whose call finds no live instance of the called service:
// the README's quick start, where `curl localhost:4080/greet` comes before
// Greeting has registered. Real `svc instance` processes of the lymph tour
// on one local registry, and real HTTP.
import { randomBytes } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { UnknownServiceError, type ClusterClient } from '@svc/core';
import { LocalRegistry, localRegistryDir } from '@svc/core/internal';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TestEnv, requireBuild, type Proc } from './support/svc.js';

const env = new TestEnv();
let web: Proc;
let webUrl: string;
let client: ClusterClient;

const quiet = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return quiet;
  },
};

beforeAll(async () => {
  requireBuild();
  // Web and an RPC service that calls Greeting; Greeting itself is not running.
  [web] = await Promise.all([
    env.instance('conf/web.yml', { env: { WEB_PORT: '0' } }),
    env.instance('relay.yml', { cwd: join(FIXTURES, 'unavailable') }),
  ]);
  const started = web.logs().find((l) => l.msg.startsWith('started Web'))!;
  webUrl = /http (http:\/\/[^\s,)]+)/.exec(started.msg)![1]!;
  client = await env.client();
});

/**
 * A record of Greeting in the test's registry whose endpoint refuses
 * connections, as an instance's does in the second after a SIGKILL; it
 * names this process, which is alive, so it is not dropped as dead.
 */
async function staleGreeting(): Promise<{ close(): Promise<void> }> {
  const closed = createServer();
  await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
  const port = (closed.address() as AddressInfo).port;
  await new Promise((r) => closed.close(r));
  const dir = localRegistryDir(env.cluster, { SVC_LOCAL_REGISTRY_DIR: env.registryDir });
  const registry = await LocalRegistry.open(
    { cluster: env.cluster, bindHost: '127.0.0.1', log: quiet, clientName: 'test' },
    { dir },
  );
  const id = randomBytes(8).toString('hex');
  await registry.register({
    id,
    service: 'Greeting',
    host: '127.0.0.1',
    pid: process.pid,
    startedAt: Date.now(),
    endpoints: { rpc: `tcp://127.0.0.1:${port}` },
    subscriptions: [],
  });
  return {
    async close() {
      await registry.unregister('Greeting', id);
      await registry.close();
    },
  };
}

afterAll(async () => {
  await client?.close();
  await env.stop();
});

/**
 * GET /greet, answered 503 with Retry-After and `error` in its body; once
 * Web has logged the request's access record, resolves with its trace id.
 */
async function unavailable(error: string): Promise<string | null> {
  const res = await fetch(`${webUrl}/greet?name=Flynne`);
  expect(res.status).toBe(503);
  expect(res.headers.get('retry-after')).toBe('1');
  const traceId = res.headers.get('x-trace-id');
  expect(await res.json()).toEqual({ error, status: 503, traceId });
  await web.waitFor(
    (p) => p.hasLog((l) => l.traceId === traceId && l.msg === 'http GET /greet 503'),
    `the access record of a 503 (${error})`,
  );
  return traceId;
}

describe('a service with no live instance, then once it has started', () => {
  it('answers an @http route calling it 503 with Retry-After, and 200 once it runs', async () => {
    const traceId = await unavailable('service "Greeting" is unavailable');

    // Logged once, at WARN and without a stack, as an expected failure, not an unexpected error.
    const records = web.logs().filter((l) => l.traceId === traceId);
    expect(records.filter((l) => l.level === 'error')).toEqual([]);
    const warned = records.filter((l) => l.level === 'warn');
    expect(warned.map((l) => l.msg)).toEqual([
      'http Web.greet failed: no live instance of service "Greeting"',
    ]);
    expect(warned[0]!['stack']).toBeUndefined();

    // An RPC worker's nested call: its caller gets the UnknownServiceError, as on the wire before.
    const nested = await client.call('Relay', 'greet', { name: 'Flynne' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(nested).toBeInstanceOf(UnknownServiceError);
    expect((nested as UnknownServiceError).message).toBe('no live instance of service "Greeting"');

    // Every instance listed refuses the call (one just killed, whose record is still there):
    // the request reached none, and the answer is the same 503.
    const stale = await staleGreeting();
    try {
      const refusedTrace = await unavailable('a service this request needs is unavailable');
      const refusal = web.logs().filter((l) => l.traceId === refusedTrace && l.level !== 'info');
      expect(refusal.map((l) => [l.level, l['error'], l['stack']])).toEqual([
        ['warn', 'NotDeliveredError', undefined],
      ]);
    } finally {
      await stale.close();
    }

    // The called service starts, on the same registry: the same request is served.
    await env.instance('conf/greeting.yml');
    const again = await fetch(`${webUrl}/greet?name=Flynne`);
    expect(again.status).toBe(200);
    expect(again.headers.get('retry-after')).toBeNull();
    expect(await again.text()).toBe('Hi, Flynne!');
    expect(await client.call('Relay', 'greet', { name: 'Flynne' })).toBe('Hi, Flynne!');
  });
});
