// Nameko's HTTP example, tested with svc's test kit.
import { testCluster } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { HttpService } from '../services/http.js';

describe('http_service', () => {
  it('answers GET /get/<int> with the value as JSON', async () => {
    await using cluster = await testCluster([HttpService]);
    const base = cluster.instances[0]!.httpUrl!;
    const res = await fetch(`${base}/get/42`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ value: 42 });
    expect(await (await fetch(`${base}/get/-7`)).json()).toEqual({ value: -7 });
  });

  it('answers a value that is not an integer with a 400 that says why', async () => {
    await using cluster = await testCluster([HttpService]);
    const base = cluster.instances[0]!.httpUrl!;
    for (const bad of ['abc', '4.2', '1e3']) {
      const res = await fetch(`${base}/get/${bad}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: `value must be an integer, got "${bad}"` });
    }
  });

  it('echoes the JSON body of POST /post', async () => {
    await using cluster = await testCluster([HttpService]);
    const base = cluster.instances[0]!.httpUrl!;
    const body = { name: 'Flynne', tags: ['a', 'b'], n: 1 };
    const res = await fetch(`${base}/post`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(body);
  });

  it('refuses a POST /post that carries no JSON', async () => {
    await using cluster = await testCluster([HttpService]);
    const base = cluster.instances[0]!.httpUrl!;
    const text = await fetch(`${base}/post`, { method: 'POST', body: 'plain words' });
    expect(text.status).toBe(400);
    expect(await text.json()).toMatchObject({
      error: 'POST /post expects a JSON body (Content-Type: application/json)',
    });
    const broken = await fetch(`${base}/post`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"oops"',
    });
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as { error: string }).error).toMatch(/^malformed JSON body/);
  });
});
