// An @http route whose call finds no live instance of the called service:
// the README's quick start, where `curl localhost:4080/greet` comes before
// Greeting has registered. Real `svc instance` processes of the lymph tour
// on one local registry, and real HTTP.
import { join } from 'node:path';
import { UnknownServiceError, type ClusterClient } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TestEnv, requireBuild, type Proc } from './support/svc.js';

const env = new TestEnv();
let web: Proc;
let webUrl: string;
let client: ClusterClient;

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

afterAll(async () => {
  await client?.close();
  await env.stop();
});

describe('a service with no live instance, then once it has started', () => {
  it('answers an @http route calling it 503 with Retry-After, and 200 once it runs', async () => {
    const res = await fetch(`${webUrl}/greet?name=Flynne`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const traceId = res.headers.get('x-trace-id');
    expect(await res.json()).toEqual({
      error: 'service "Greeting" is unavailable',
      status: 503,
      traceId,
    });

    // Logged once, at WARN and without a stack, as an expected failure, not an unexpected error.
    await web.waitFor(
      (p) => p.hasLog((l) => l.traceId === traceId && l.msg === 'http GET /greet 503'),
      'the access record of the 503',
    );
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

    // The called service starts, on the same registry: the same request is served.
    await env.instance('conf/greeting.yml');
    const again = await fetch(`${webUrl}/greet?name=Flynne`);
    expect(again.status).toBe(200);
    expect(again.headers.get('retry-after')).toBeNull();
    expect(await again.text()).toBe('Hi, Flynne!');
    expect(await client.call('Relay', 'greet', { name: 'Flynne' })).toBe('Hi, Flynne!');
  });
});
