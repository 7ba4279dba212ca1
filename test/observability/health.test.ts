// /healthz and /readyz of a real `svc instance` on its metrics port:
// live as soon as it answers, ready only once started and registered,
// not ready again from the moment it stops (Kubernetes' probes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, until } from '../node/helpers.js';
import { FIXTURES, TestEnv, requireBuild } from '../support/svc.js';

const env = new TestEnv();

beforeAll(() => requireBuild());
afterAll(() => env.stop());

/** Status and body of a GET, or undefined while nothing listens. */
async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

describe('health endpoints', () => {
  it('says live but not ready while starting, ready once registered, not ready while stopping', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = env.spawn(['instance', '--config', 'health.yml'], {
      cwd: `${FIXTURES}/health`,
      env: { METRICS_PORT: String(port), START_DELAY_MS: '2500' },
    });

    // Starting: the port is open before the services have started.
    const starting = await until('the metrics port to open', () => get(`${base}/readyz`), 20_000);
    expect(starting).toEqual({ status: 503, body: 'not ready: starting\n' });
    expect(await get(`${base}/healthz`)).toEqual({ status: 200, body: 'ok\n' });

    await until(
      'the instance to be ready',
      async () => (await get(`${base}/readyz`))?.status === 200,
    );
    expect(proc.hasLog((l) => l.msg.startsWith('started '))).toBe(true);
    expect(await get(`${base}/readyz`)).toEqual({ status: 200, body: 'ready\n' });
    expect((await get(`${base}/nope`))?.status).toBe(404);
    const post = await fetch(`${base}/readyz`, { method: 'POST' });
    expect(post.status).toBe(405);
    // Headers past 8 KiB are refused before any handler runs.
    const huge = await fetch(`${base}/metrics`, { headers: { 'x-big': 'a'.repeat(10_000) } });
    expect(huge.status).toBe(431);

    // Stopping: a call in flight keeps it draining; meanwhile it is not ready but live.
    const client = await env.client();
    try {
      const inFlight = client.call('Slow', 'sleep', { ms: 2000 }, { timeout: 10_000 });
      await new Promise((r) => setTimeout(r, 200));
      proc.child.kill('SIGTERM');
      const stopping = await until('readiness to drop', async () => {
        const r = await get(`${base}/readyz`);
        return r?.status === 503 ? r : undefined;
      });
      expect(stopping.body).toBe('not ready: stopping\n');
      expect((await get(`${base}/healthz`))?.status).toBe(200);
      expect(await inFlight).toBe('slept');
    } finally {
      await client.close();
    }
    expect((await proc.exited).code).toBe(0);
    expect(await get(`${base}/healthz`)).toBeUndefined();
  });

  it('refuses to start, in one line, when the metrics port is taken', async () => {
    const port = await freePort();
    const first = env.spawn(['instance', '--config', 'health.yml'], {
      cwd: `${FIXTURES}/health`,
      env: { METRICS_PORT: String(port) },
    });
    await first.waitFor((p) => p.hasLog((l) => l.msg.startsWith('started ')), 'the first instance');
    const second = await env.run(['instance', '--config', 'health.yml'], {
      cwd: `${FIXTURES}/health`,
      env: { METRICS_PORT: String(port) },
    });
    expect(second.code).toBe(2);
    expect(second.stderr).toContain(`metrics: cannot listen on 127.0.0.1:${port}`);
  });
});
