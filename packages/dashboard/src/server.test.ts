// The dashboard's server against in-process instances on a memory hub, each with its real log stream.
import { rmSync } from 'node:fs';
import { request, type IncomingMessage } from 'node:http';
import { ClusterClient, Instance, Service, event } from '@svc/core';
import { MemoryHub, testConfig } from '@svc/core/testing';
import { createLogStream } from '@svc/tail';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboard, type Dashboard } from './server.js';
import { Greeting, testAuth, until, webFiles } from './server.fixture.js';

class Listen extends Service {
  static override serviceName = 'Listen';

  @event('greeted') onGreeted(body: { name: string }) {
    this.log.info(`Somebody greeted ${body.name}`);
  }
}

interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

let hub: MemoryHub;
const instances: Instance[] = [];
let client: ClusterClient;
let dash: Dashboard;
let registryReads = 0;
const webDir = webFiles();

class Vault extends Service {
  static override serviceName = 'Vault';
}

async function startInstance(
  cls: typeof Greeting | typeof Listen | typeof Vault,
  options: { tls?: boolean } = {},
): Promise<Instance> {
  const logs = createLogStream(options);
  const instance = new Instance({
    config: testConfig([cls]),
    backends: hub.connect(),
    classes: { [cls.serviceName]: cls },
    sinks: [logs],
    extensions: [logs],
  });
  instances.push(instance);
  await instance.start();
  return instance;
}

/** One HTTP request to the dashboard; `headers` replace the defaults (our Host, the token). */
function call(
  method: string,
  path: string,
  options: { headers?: Record<string, string>; body?: string; to?: Dashboard } = {},
): Promise<Reply> {
  const to = options.to ?? dash;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: '127.0.0.1',
        port: to.port,
        method,
        path,
        headers: {
          host: `127.0.0.1:${to.port}`,
          authorization: `Bearer ${to.token}`,
          ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...options.headers,
        },
      },
      (res) => {
        let body = '';
        res.setEncoding('utf8').on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
      },
    );
    req.on('error', reject);
    req.end(options.body);
  });
}

function errorOf(reply: Reply): string {
  return (JSON.parse(reply.body) as { error: string }).error;
}

/** A page's live stream: its events as they arrive, until closed. */
function openStream(path: string, to: Dashboard = dash) {
  const events: Array<{ event: string; data: unknown }> = [];
  let res: IncomingMessage | undefined;
  const opened = new Promise<number>((resolve, reject) => {
    request(
      {
        host: '127.0.0.1',
        port: to.port,
        path,
        headers: { host: `127.0.0.1:${to.port}`, authorization: `Bearer ${to.token}` },
      },
      (r) => {
        res = r;
        let buffer = '';
        r.setEncoding('utf8').on('data', (d: string) => {
          buffer += d;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const event = /^event: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (event && data) events.push({ event, data: JSON.parse(data) as unknown });
          }
        });
        resolve(r.statusCode!);
      },
    )
      .on('error', reject)
      .end();
  });
  return { events, opened, close: () => res?.destroy() };
}

beforeAll(async () => {
  hub = new MemoryHub();
  await startInstance(Greeting);
  await startInstance(Greeting);
  await startInstance(Listen);
  const backends = hub.connect();
  const list = backends.registry.list.bind(backends.registry);
  backends.registry.list = () => {
    registryReads++;
    return list();
  };
  client = new ClusterClient(backends, { name: 'test', auth: testAuth });
  dash = await startDashboard({ client, cluster: 'test', port: 0, webDir, intervalMs: 100 });
});

afterAll(async () => {
  await dash?.close();
  await Promise.allSettled(instances.map((i) => i.stop({ graceMs: 0 })));
  await client?.close();
  rmSync(webDir, { recursive: true, force: true });
});

describe('the dashboard server', () => {
  it('prints a URL on 127.0.0.1 with its token in the fragment', () => {
    expect(dash.url).toBe(`http://127.0.0.1:${dash.port}/#token=${dash.token}`);
  });

  it('serves the page without the token, with headers that keep it from being framed', async () => {
    const page = await call('GET', '/', { headers: { authorization: '' } });
    expect(page.status).toBe(200);
    expect(page.body).toContain('svc dashboard');
    expect(page.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect((await call('GET', '/app.js')).headers['content-type']).toMatch(/^text\/javascript/);
    expect((await call('GET', '/../../etc/passwd')).status).toBe(404);
  });

  it('refuses API requests without the token, from another host name or from another site', async () => {
    const noToken = await call('GET', '/api/stream', { headers: { authorization: '' } });
    expect(noToken.status).toBe(401);
    expect(JSON.parse(noToken.body)).toMatchObject({ status: 401 });
    expect(errorOf(noToken)).toContain('token');
    const body = JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'X' } });
    expect(
      (await call('POST', '/api/call', { body, headers: { authorization: 'Bearer nope' } })).status,
    ).toBe(401);
    expect((await call('GET', '/', { headers: { host: 'rebound.example:80' } })).status).toBe(403);
    expect(
      (
        await call('POST', '/api/call', {
          body,
          headers: { host: `attacker.example:${dash.port}` },
        })
      ).status,
    ).toBe(403);
    const crossSite = await call('POST', '/api/call', {
      body,
      headers: { origin: 'http://attacker.example' },
    });
    expect(crossSite.status).toBe(403);
    expect(errorOf(crossSite)).toContain('cross-origin');
  });

  it('answers a bad request with a clear status and keeps serving', async () => {
    const huge = JSON.stringify({
      service: 'Greeting',
      method: 'greet',
      params: { name: 'x'.repeat(300_000) },
    });
    expect((await call('POST', '/api/call', { body: huge })).status).toBe(413);
    expect((await call('POST', '/api/call', { body: '{"service":' })).status).toBe(400);
    expect((await call('POST', '/api/call', { body: '[]' })).status).toBe(400);
    expect(
      (await call('POST', '/api/call', { body: '{}', headers: { 'content-type': 'text/plain' } }))
        .status,
    ).toBe(415);
    const bad = [
      { service: 42, method: 'greet' },
      { service: 'Greeting', method: 'greet', params: [1] },
      { service: 'Greeting', method: 'greet', timeout: -1 },
      { service: 'Greeting', method: 'a b' },
    ];
    for (const body of bad)
      expect((await call('POST', '/api/call', { body: JSON.stringify(body) })).status).toBe(400);
    // A name that is a property of every object is just a name: no such service.
    const proto = await call('POST', '/api/call', {
      body: JSON.stringify({ service: '__proto__', method: 'constructor' }),
    });
    expect(JSON.parse(proto.body)).toMatchObject({ ok: false });
    expect((await call('GET', '/api/call')).status).toBe(405);
    expect((await call('GET', '/api/nothing')).status).toBe(404);
    expect((await call('GET', '/api/logs?level=loud')).status).toBe(400);
    expect((await call('GET', '/api/traces/..%2F..')).status).toBe(400);
    expect((await call('GET', '/api/services/Nobody')).status).toBe(400);
    expect((await call('GET', '/api/services/%E0%A4%A')).status).toBe(400);
    expect((await call('GET', '/')).status).toBe(200);
  });

  it("calls a method and answers with its result, its duration and its trace's waterfall", async () => {
    const reply = await call('POST', '/api/call', {
      body: JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'Flynne' } }),
    });
    expect(reply.status).toBe(200);
    const outcome = JSON.parse(reply.body) as {
      ok: boolean;
      result: unknown;
      traceId: string;
      durationMs: number;
    };
    expect(outcome).toMatchObject({ ok: true, result: 'Hi, Flynne!' });
    expect(outcome.traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(outcome.durationMs).toBeGreaterThan(0);
    const trace = await until(async () => {
      const t = await call('GET', `/api/traces/${outcome.traceId}`);
      const body = JSON.parse(t.body) as {
        spans?: Array<{ name: string; logs: Array<{ msg: string }> }>;
      };
      return (body.spans?.length ?? 0) >= 2 ? body : undefined;
    }, 'both steps of the trace');
    expect(trace.spans!.map((s) => s.name)).toEqual(['Greeting.greet', 'Listen.onGreeted']);
    expect(trace.spans![0]!.logs.map((l) => l.msg)).toEqual(['Saying hi to Flynne']);
  });

  it('leaves the steps and records past its limits out of a trace, and says how many', async () => {
    const small = await startDashboard({
      client,
      cluster: 'test',
      port: 0,
      webDir,
      intervalMs: 100,
      maxTraceSpans: 1,
      maxTraceRecords: 0,
    });
    try {
      const outcome = JSON.parse(
        (
          await call('POST', '/api/call', {
            body: JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'Sam' } }),
          })
        ).body,
      ) as { traceId: string };
      // The whole trace, as the full dashboard answers it, then the same through the limits.
      const whole = await until(async () => {
        const t = JSON.parse((await call('GET', `/api/traces/${outcome.traceId}`)).body) as {
          spans?: Array<{ name: string; logs: unknown[] }>;
          logs?: unknown[];
        };
        return (t.spans?.length ?? 0) >= 2 ? t : undefined;
      }, 'both steps of the trace');
      const records = whole.spans!.reduce((n, s) => n + s.logs.length, whole.logs!.length);
      const limited = await call('GET', `/api/traces/${outcome.traceId}`, { to: small });
      expect(limited.status).toBe(200);
      const trace = JSON.parse(limited.body) as {
        spans: Array<{ name: string; logs: unknown[] }>;
        logs: unknown[];
        omitted: { spans: number; records: number };
      };
      expect(trace.spans.map((s) => [s.name, s.logs.length])).toEqual([['Greeting.greet', 0]]);
      expect(trace.logs).toEqual([]);
      expect(trace.omitted).toEqual({ spans: whole.spans!.length - 1, records });
      expect(records).toBeGreaterThan(0);
    } finally {
      await small.close();
    }
  });

  it('answers a failed call with the error, its code and the trace id', async () => {
    const reply = await call('POST', '/api/call', {
      body: JSON.stringify({ service: 'Greeting', method: 'nope', params: {} }),
    });
    const outcome = JSON.parse(reply.body) as {
      ok: boolean;
      error: { code: string; message: string };
      traceId: string;
    };
    expect(outcome.ok).toBe(false);
    expect(outcome.error.code).toBe('SVC_ERR_METHOD_NOT_FOUND');
    expect(outcome.traceId).toMatch(/^[0-9a-f]{32}$/);
  });

  it('emits an event that the handlers receive, under a trace id of its own', async () => {
    const reply = await call('POST', '/api/emit', {
      body: JSON.stringify({ type: 'greeted', body: { name: 'Quorra' } }),
    });
    const outcome = JSON.parse(reply.body) as { ok: boolean; traceId: string };
    expect(outcome.ok).toBe(true);
    await until(
      () => dash.logs.recordsOf(outcome.traceId).find((r) => r.msg === 'Somebody greeted Quorra'),
      'the handler to log the event',
    );
  });

  it('pushes every reading to every page, read once from the cluster for all of them', async () => {
    const a = openStream('/api/stream');
    const b = openStream('/api/stream');
    try {
      expect(await a.opened).toBe(200);
      expect(await b.opened).toBe(200);
      const before = registryReads;
      await until(() => a.events.filter((e) => e.event === 'cluster').length >= 6, 'six readings');
      await until(() => b.events.filter((e) => e.event === 'cluster').length >= 6, 'six readings');
      const readings = Math.max(
        a.events.filter((e) => e.event === 'cluster').length,
        b.events.filter((e) => e.event === 'cluster').length,
      );
      // One registry read per reading (plus the one under way), however many pages watch.
      expect(registryReads - before).toBeLessThanOrEqual(readings + 1);
      const last = a.events.filter((e) => e.event === 'cluster').at(-1)!.data as {
        services: Array<{ name: string; instances: string[] }>;
      };
      expect(last.services.map((s) => [s.name, s.instances.length])).toEqual([
        ['Greeting', 2],
        ['Listen', 1],
      ]);
      expect(a.events[1]).toMatchObject({ event: 'history' });
      expect(a.events.some((e) => e.event === 'metrics')).toBe(true);
    } finally {
      a.close();
      b.close();
    }
  });

  it('streams the log records a logs view asks for: first those held, then live ones', async () => {
    const first = JSON.parse(
      (
        await call('POST', '/api/call', {
          body: JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'Alan' } }),
        })
      ).body,
    ) as { traceId: string };
    await until(() => dash.logs.recordsOf(first.traceId).length >= 3, 'the records of the call');
    const view = openStream(`/api/logs?services=Listen&level=info`);
    try {
      expect(await view.opened).toBe(200);
      await until(() => view.events.find((e) => e.event === 'logs'), 'the held records');
      const held = view.events.find((e) => e.event === 'logs')!.data as Array<{
        msg: string;
        service: string;
      }>;
      expect(held.some((r) => r.msg === 'Somebody greeted Alan')).toBe(true);
      expect(held.every((r) => r.service === 'Listen')).toBe(true);
      await call('POST', '/api/call', {
        body: JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'Lora' } }),
      });
      const live = await until(
        () =>
          view.events.find(
            (e) => e.event === 'log' && (e.data as { msg: string }).msg === 'Somebody greeted Lora',
          ),
        'the live record',
      );
      expect(live).toBeDefined();
      expect(
        view.events
          .filter((e) => e.event === 'log')
          .every((e) => (e.data as { service: string }).service === 'Listen'),
      ).toBe(true);
    } finally {
      view.close();
    }
  });

  it("gives a trace's logs view the records written before it followed their instances, each once", async () => {
    const { traceId } = JSON.parse(
      (
        await call('POST', '/api/call', {
          body: JSON.stringify({ service: 'Greeting', method: 'greet', params: { name: 'Early' } }),
        })
      ).body,
    ) as { traceId: string };
    await until(() => dash.logs.recordsOf(traceId).length >= 4, 'the records of the call');
    // A dashboard started after the call (as one opened to look into a request of an hour ago)
    // never saw its records live; the one that did holds them in its ring and gets them again
    // from the instances. Both show each record once.
    const late = await startDashboard({
      client,
      cluster: 'test',
      port: 0,
      webDir,
      intervalMs: 100,
    });
    try {
      for (const to of [late, dash]) {
        const view = openStream(`/api/logs?trace=${traceId}`, to);
        try {
          expect(await view.opened).toBe(200);
          await until(() => view.events.find((e) => e.event === 'logs'), 'the held records');
          const held = view.events.find((e) => e.event === 'logs')!.data as Array<{
            msg: string;
            traceId: string;
            time: number;
          }>;
          const msgs = held.map((r) => r.msg);
          expect(msgs.filter((m) => m === 'Saying hi to Early')).toHaveLength(1);
          expect(msgs.filter((m) => m === 'Somebody greeted Early')).toHaveLength(1);
          expect(held.every((r) => r.traceId === traceId)).toBe(true);
          const times = held.map((r) => r.time);
          expect(times).toEqual([...times].sort((a, b) => a - b));
        } finally {
          view.close();
        }
      }
    } finally {
      await late.close();
    }
  });

  it('shows instances coming and going without a reload', async () => {
    const page = openStream('/api/stream');
    try {
      await page.opened;
      const extra = await startInstance(Listen);
      const count = (n: number) => () =>
        page.events.some(
          (e) =>
            e.event === 'cluster' &&
            (e.data as { services: Array<{ name: string; instances: string[] }> }).services.find(
              (s) => s.name === 'Listen',
            )?.instances.length === n,
        );
      await until(count(2), 'the new Listen instance');
      page.events.length = 0;
      await extra.stop({ graceMs: 0 });
      await until(count(1), 'the stopped instance to go');
    } finally {
      page.close();
    }
  });

  it('refuses more pages than its limit with 503', async () => {
    const small = await startDashboard({ client, cluster: 'test', port: 0, webDir, maxStreams: 1 });
    try {
      const headers = { host: `127.0.0.1:${small.port}`, authorization: `Bearer ${small.token}` };
      const first = await new Promise<IncomingMessage>((resolve) =>
        request(
          { host: '127.0.0.1', port: small.port, path: '/api/stream', headers },
          resolve,
        ).end(),
      );
      expect(first.statusCode).toBe(200);
      const second = await new Promise<IncomingMessage>((resolve) =>
        request(
          { host: '127.0.0.1', port: small.port, path: '/api/stream', headers },
          resolve,
        ).end(),
      );
      expect(second.statusCode).toBe(503);
      first.destroy();
      second.destroy();
    } finally {
      await small.close();
    }
  });

  it('follows a log stream served over TLS (an instance with rpc_tls)', async () => {
    const vault = await startInstance(Vault, { tls: true });
    const view = openStream('/api/logs?services=Vault&level=info');
    try {
      expect(vault.endpoints['logs']).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
      expect(await view.opened).toBe(200);
      // Logged until the dashboard has joined the new stream and passed a record on.
      await until(() => {
        vault.log.info('sealed record');
        return view.events.find(
          (e) => e.event === 'log' && (e.data as { msg: string }).msg === 'sealed record',
        );
      }, 'a record of the TLS log stream');
    } finally {
      view.close();
      await vault.stop({ graceMs: 0 });
    }
  });
});
