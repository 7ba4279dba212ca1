import { afterEach, describe, expect, it } from 'vitest';
import { ClusterClient } from '../cluster-client.js';
import { MAX_SENT_SPAN_IDS, WorkerContext } from '../context.js';
import { event, http, rpc, timer } from '../decorators.js';
import { RPC } from '../typed.js';
import { Instance } from '../instance.js';
import { MemorySink } from '../log/index.js';
import { REDACTED } from '../redact.js';
import { Service } from '../service.js';
import { MemoryHub, testConfig } from '../testing/index.js';
import type { HttpRequest } from '../http/types.js';
import type { ActiveSpan, SpanStart, Tracing } from './tracer.js';

const seen: WorkerContext[] = [];

class Back extends Service {
  static override serviceName = 'Back';
  declare [RPC]: 'login' | 'refuse';
  @rpc({ sensitive: ['password', 'card.number'] }) login(_p: {
    user: string;
    password: string;
    card: { number: string; expiry: string };
  }) {
    seen.push(this.context!);
    void this.emit('logged_in', { ok: true });
    return 'ok';
  }
  @rpc({ sensitive: ['password'] }) refuse(_p: { password: string }) {
    throw new Error('wrong password');
  }
  @event('logged_in') loggedIn() {
    seen.push(this.context!);
  }
  @event('flaky', { retry: { attempts: 2, delay: 5 } }) flaky() {
    throw new Error('still down');
  }
}

class Edge extends Service {
  static override serviceName = 'Edge';
  @http('GET', '/hop') async hop(_req: HttpRequest) {
    seen.push(this.context!);
    return await this.call('Back', 'login', {
      user: 'flynn',
      password: 'grid',
      card: { number: '4111-1111-1111-1111', expiry: '12/30' },
    });
  }
}

/** A Tracing that keeps what was started and ended, in memory. */
class Recorder implements Tracing {
  readonly spans: (SpanStart & {
    service: string;
    ended: boolean;
    error?: unknown;
    end?: Record<string, unknown>;
  })[] = [];
  tracer(service: string) {
    return {
      start: (s: SpanStart): ActiveSpan => {
        const kept = { ...s, service, ended: false } as Recorder['spans'][number];
        this.spans.push(kept);
        return {
          traceFlags: s.traceFlags,
          end(error?: unknown, attributes?: Record<string, unknown>) {
            kept.ended = true;
            if (error !== undefined) kept.error = error;
            if (attributes) kept.end = attributes;
          },
        };
      },
    };
  }
  async shutdown() {}
}

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  seen.length = 0;
  for (const stop of stops.splice(0)) await stop();
});

async function cluster(options: { trust: boolean }) {
  const hub = new MemoryHub();
  const sink = new MemorySink();
  const tracing = new Recorder();
  const plugged: { hook: string; args: unknown }[] = [];
  const instances: Instance[] = [];
  for (const cls of [Back, Edge]) {
    const instance = new Instance({
      config: testConfig([cls], {
        http: { host: '127.0.0.1', port: 0, trustTraceHeader: options.trust },
      }),
      backends: hub.connect(),
      classes: { [cls.serviceName]: cls },
      sinks: [sink],
      tracing,
      plugins: [
        {
          onWorkerStart: (w) => void plugged.push({ hook: 'start', args: w.args }),
          onError: (_e, w) => void plugged.push({ hook: 'error', args: w.args }),
        },
      ],
    });
    instances.push(instance);
    await instance.start();
  }
  const client = new ClusterClient(hub.connect(), { name: 'test-client' });
  stops.push(async () => {
    await client.close();
    for (const i of instances) await i.stop({ graceMs: 0 });
  });
  return { url: instances[1]!.httpUrl!, tracing, sink, plugged, client };
}

const PARENT = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01';

describe('W3C Trace Context', () => {
  it('joins a trusted traceparent and passes trace, parent span and tracestate down the tree', async () => {
    const { url, tracing } = await cluster({ trust: true });
    const res = await fetch(`${url}/hop`, {
      headers: { traceparent: PARENT, tracestate: 'vendor=abc' },
    });
    expect(await res.text()).toBe('ok');
    expect(res.headers.get('x-trace-id')).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    await expect.poll(() => seen.length).toBe(3);
    const [edge, back, listener] = seen as [WorkerContext, WorkerContext, WorkerContext];
    expect(res.headers.get('traceparent')).toBe(
      `00-4bf92f3577b34da6a3ce929d0e0e4736-${edge.spanId}-01`,
    );
    for (const ctx of seen) {
      expect(ctx.traceId).toBe('4bf92f3577b34da6a3ce929d0e0e4736');
      expect(ctx.traceState).toBe('vendor=abc');
    }
    expect(edge.parentSpanId).toBe('00f067aa0ba902b7');

    // Edge's worker → its client span → Back's worker → its producer span → the handler.
    const span = (kind: string, name: string) =>
      tracing.spans.find((s) => s.kind === kind && s.name === name)!;
    const client = span('client', 'Back/login');
    expect(client.parentSpanId).toBe(edge.spanId);
    expect(back.parentSpanId).toBe(client.spanId);
    const publish = span('producer', 'publish logged_in');
    expect(publish.parentSpanId).toBe(back.spanId);
    expect(listener.parentSpanId).toBe(publish.spanId);
    expect(span('server', 'GET /hop').spanId).toBe(edge.spanId);
    expect(span('consumer', 'process logged_in').spanId).toBe(listener.spanId);
    await expect.poll(() => tracing.spans.every((s) => s.ended)).toBe(true);
    expect(span('server', 'GET /hop').end).toMatchObject({ 'http.response.status_code': 200 });
  });

  it("with span recording, lists in each worker's record the spans its calls and events went out with", async () => {
    const { url, tracing, sink } = await cluster({ trust: false });
    expect(await (await fetch(`${url}/hop`)).text()).toBe('ok');
    await expect.poll(() => seen.length).toBe(3);
    const outcome = (msg: string) => sink.records.find((r) => r.msg === msg);
    await expect.poll(() => outcome('event Back.loggedIn ok')).toBeDefined();
    await expect.poll(() => outcome('http Edge.hop ok')).toBeDefined();
    const span = (kind: string, name: string) =>
      tracing.spans.find((s) => s.kind === kind && s.name === name)!;
    // Edge's worker sent the call by its client span, Back's the event by its producer span.
    expect(outcome('http Edge.hop ok')!['sentSpanIds']).toEqual([
      span('client', 'Back/login').spanId,
    ]);
    expect(outcome('rpc Back.login ok')!['sentSpanIds']).toEqual([
      span('producer', 'publish logged_in').spanId,
    ]);
    expect(outcome('event Back.loggedIn ok')).not.toHaveProperty('sentSpanIds');
  });

  it('ignores traceparent unless the edge is trusted, and a malformed one even then', async () => {
    const untrusted = await cluster({ trust: false });
    const res = await fetch(`${untrusted.url}/hop`, { headers: { traceparent: PARENT } });
    expect(res.headers.get('x-trace-id')).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    expect(res.headers.get('traceparent')).toMatch(
      new RegExp(`^00-${res.headers.get('x-trace-id')}-[0-9a-f]{16}-01$`),
    );
    await expect.poll(() => seen.length).toBe(3);
    expect(seen[0]!.parentSpanId).toBeUndefined();

    seen.length = 0;
    const trusted = await cluster({ trust: true });
    for (const bad of [
      '00-00000000000000000000000000000000-00f067aa0ba902b7-01',
      '00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01',
      'ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
      '00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01',
      'garbage',
    ]) {
      const r = await fetch(`${trusted.url}/hop`, { headers: { traceparent: bad } });
      expect(r.status).toBe(200);
      expect(r.headers.get('x-trace-id')).toMatch(/^[0-9a-f]{32}$/);
      expect(r.headers.get('x-trace-id')).not.toBe('4bf92f3577b34da6a3ce929d0e0e4736');
    }
  });

  it('redacts sensitive arguments in plugin hooks, spans and the failure record', async () => {
    const { url, tracing, plugged, sink, client } = await cluster({ trust: false });
    await fetch(`${url}/hop`);
    await expect.poll(() => seen.length).toBe(3);
    const login = plugged.find(
      (p) => p.hook === 'start' && (p.args as { user?: string })?.user === 'flynn',
    );
    expect(login?.args).toEqual({
      user: 'flynn',
      password: REDACTED,
      card: { number: REDACTED, expiry: '12/30' },
    });
    // What the method itself got is untouched.
    const server = tracing.spans.find((s) => s.kind === 'server' && s.name === 'Back/login')!;
    expect(server.attributes['svc.rpc.params']).toBe(
      JSON.stringify({
        user: 'flynn',
        password: REDACTED,
        card: { number: REDACTED, expiry: '12/30' },
      }),
    );

    await expect(client.call('Back', 'refuse', { password: 'hunter2' })).rejects.toThrow(
      'wrong password',
    );
    expect(plugged.find((p) => p.hook === 'error')?.args).toEqual({ password: REDACTED });
    const failure = sink.records.find((r) => r.msg.startsWith('rpc Back.refuse failed'))!;
    expect(failure['args']).toEqual({ password: REDACTED });
    expect(failure['traceId']).toMatch(/^[0-9a-f]{32}$/);
    expect(JSON.stringify(sink.records)).not.toContain('hunter2');
    // Not a bare '4111': a random hex span id holds it now and then.
    expect(JSON.stringify(sink.records)).not.toContain('4111-1111-1111-1111');
    expect(
      tracing.spans.find((s) => s.name === 'Back/refuse' && s.kind === 'server')?.error,
    ).toBeInstanceOf(Error);
  });

  it('writes the trace id on the retry and give-up lines of an event, between its workers', async () => {
    const { sink, client } = await cluster({ trust: false });
    await client.emit('flaky', {});
    const gaveUp = () => sink.records.find((r) => r.msg.startsWith('giving up on event flaky'));
    await expect.poll(gaveUp).toBeDefined();
    const failures = sink.records.filter((r) => r.msg.startsWith('event Back.flaky failed'));
    expect(failures).toHaveLength(2);
    const traceId = failures[0]!.traceId;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(failures[1]!.traceId).toBe(traceId);
    const retry = sink.records.find((r) => r.msg.startsWith('retrying event flaky'))!;
    expect(retry.traceId).toBe(traceId);
    expect(gaveUp()!.traceId).toBe(traceId);
    // Each try is a worker span of its own, children of the same producer span.
    expect(failures[0]!.spanId).not.toBe(failures[1]!.spanId);
    expect(failures[0]!['parentSpanId']).toBe(failures[1]!['parentSpanId']);
  });

  it('makes each timer run the root span of a trace of its own, parent of the calls it makes', async () => {
    const ticks: WorkerContext[] = [];
    class Ticker extends Service {
      static override serviceName = 'Ticker';
      @timer(20, { eager: true }) async tick() {
        ticks.push(this.context!);
        await this.call('Back', 'refuse', { password: 'x' }).catch(() => undefined);
      }
    }
    const hub = new MemoryHub();
    const tracing = new Recorder();
    const instances: Instance[] = [];
    for (const cls of [Back, Ticker]) {
      const instance = new Instance({
        config: testConfig([cls]),
        backends: hub.connect(),
        classes: { [cls.serviceName]: cls },
        sinks: [],
        tracing,
      });
      instances.push(instance);
      await instance.start();
    }
    stops.push(async () => {
      for (const i of instances) await i.stop({ graceMs: 0 });
    });
    await expect.poll(() => ticks.length).toBeGreaterThanOrEqual(2);
    const [first, second] = ticks as [WorkerContext, WorkerContext];
    expect(first.traceId).not.toBe(second.traceId);
    expect(first.parentSpanId).toBeUndefined();
    const span = tracing.spans.find((s) => s.spanId === first.spanId)!;
    expect(span).toMatchObject({
      service: 'Ticker',
      name: 'timer Ticker.tick',
      kind: 'internal',
      traceId: first.traceId,
      attributes: { 'code.function.name': 'Ticker.tick' },
    });
    await expect.poll(() => span.ended).toBe(true);
    // The call the run made: a client span under the timer's, then Back's server span under it.
    const client = tracing.spans.find(
      (s) => s.kind === 'client' && s.parentSpanId === first.spanId,
    )!;
    expect(client).toMatchObject({ name: 'Back/refuse', traceId: first.traceId });
    const server = tracing.spans.find(
      (s) => s.kind === 'server' && s.parentSpanId === client.spanId,
    );
    expect(server).toMatchObject({ service: 'Back', name: 'Back/refuse', traceId: first.traceId });
  });
  it('without span recording, names the calling worker as the parent of what it calls and emits', async () => {
    const hub = new MemoryHub();
    const sink = new MemorySink();
    const instances: Instance[] = [];
    stops.push(async () => {
      for (const i of instances) await i.stop({ graceMs: 0 });
    });
    for (const cls of [Back, Edge]) {
      const instance = new Instance({
        config: testConfig([cls], {
          http: { host: '127.0.0.1', port: 0, trustTraceHeader: false },
        }),
        backends: hub.connect(),
        classes: { [cls.serviceName]: cls },
        sinks: [sink],
      });
      instances.push(instance);
      await instance.start();
    }
    const res = await fetch(`${instances[1]!.httpUrl!}/hop`);
    expect(await res.text()).toBe('ok');
    await expect.poll(() => seen.length).toBe(3);
    const [edge, back, listener] = seen as [WorkerContext, WorkerContext, WorkerContext];
    // No client or producer span is recorded anywhere: the records' parents are workers' spans.
    expect(back.parentSpanId).toBe(edge.spanId);
    expect(listener.parentSpanId).toBe(back.spanId);
    const outcome = (msg: string) => sink.records.find((r) => r.msg === msg);
    await expect.poll(() => outcome('event Back.loggedIn ok')).toBeDefined();
    expect(outcome('rpc Back.login ok')).toMatchObject({
      spanId: back.spanId,
      parentSpanId: edge.spanId,
    });
    expect(outcome('event Back.loggedIn ok')).toMatchObject({
      spanId: listener.spanId,
      parentSpanId: back.spanId,
    });
    // and none lists spans it sent: its own span is what they name.
    for (const r of sink.records) expect(r).not.toHaveProperty('sentSpanIds');
  });
});

describe('WorkerContext.sent', () => {
  it('keeps the first span ids a worker sent, up to a bound, so its record stays small', () => {
    const ctx = new WorkerContext({ service: 'S', method: 'm', kind: 'rpc' });
    expect(ctx.sentSpanIds).toBeUndefined();
    const ids = Array.from({ length: MAX_SENT_SPAN_IDS + 10 }, (_, i) =>
      i.toString(16).padStart(16, '0'),
    );
    for (const id of ids) ctx.sent(id);
    expect(ctx.sentSpanIds).toEqual(ids.slice(0, MAX_SENT_SPAN_IDS));
  });
});
