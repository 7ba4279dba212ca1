// /healthz and /readyz of a real `svc instance` on its metrics port:
// live as soon as it answers, ready only once started and registered,
// not ready again from the moment it stops (Kubernetes' probes).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, probe, until } from '../node/helpers.js';
import { FIXTURES, TestEnv, requireBuild } from '../support/svc.js';

const env = new TestEnv();

beforeAll(() => requireBuild());
afterAll(() => env.stop());

describe('health endpoints', () => {
  it('says live but not ready while starting, ready once registered, not ready while stopping', async () => {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const proc = env.spawn(['instance', '--config', 'health.yml'], {
      cwd: `${FIXTURES}/health`,
      env: { METRICS_PORT: String(port), START_DELAY_MS: '2500' },
    });

    // Starting: the port is open before the services have started.
    const starting = await until('the metrics port to open', () => probe(`${base}/readyz`), 20_000);
    expect(starting).toEqual({ status: 503, body: 'not ready: starting\n' });
    expect(await probe(`${base}/healthz`)).toEqual({ status: 200, body: 'ok\n' });

    await until(
      'the instance to be ready',
      async () => (await probe(`${base}/readyz`))?.status === 200,
    );
    await proc.waitFor((p) => p.hasLog((l) => l.msg.startsWith('started ')), 'its "started" line');
    expect(await probe(`${base}/readyz`)).toEqual({ status: 200, body: 'ready\n' });
    expect((await probe(`${base}/nope`))?.status).toBe(404);
    const post = await fetch(`${base}/readyz`, { method: 'POST' });
    expect(post.status).toBe(405);
    // Headers past 8 KiB are refused before any handler runs.
    const huge = await fetch(`${base}/metrics`, { headers: { 'x-big': 'a'.repeat(10_000) } });
    expect(huge.status).toBe(431);

    // Stopping: a call in flight keeps it draining; meanwhile it is not ready but live.
    const client = await env.client();
    try {
      const inFlight = client.call('Slow', 'sleep', { ms: 2000 }, { timeout: 10_000 });
      // Stopped only once the call runs: on a loaded machine it may take longer than a
      // moment to arrive, and a stopping instance refuses a call that arrives.
      await proc.waitFor((p) => p.hasLog((l) => l.msg === 'sleep started'), 'the call to run');
      proc.child.kill('SIGTERM');
      const stopping = await until('readiness to drop', async () => {
        const r = await probe(`${base}/readyz`);
        return r?.status === 503 ? r : undefined;
      });
      expect(stopping.body).toBe('not ready: stopping\n');
      expect((await probe(`${base}/healthz`))?.status).toBe(200);
      expect(await inFlight).toBe('slept');
    } finally {
      await client.close();
    }
    expect((await proc.exited).code).toBe(0);
    expect(await probe(`${base}/healthz`)).toBeUndefined();
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
