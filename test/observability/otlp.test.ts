// The lymph tour under `svc node` with OpenTelemetry export on: one GET
// /greet is one trace, across three processes, at an OTLP/HTTP receiver
// that decodes what the official exporter sent (its JSON encoding).
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';
import { parentIn, treeRows } from '../support/tree.js';

interface OtlpValue {
  stringValue?: string;
  intValue?: number | string;
  boolValue?: boolean;
}
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
}
interface ExportRequest {
  resourceSpans: {
    resource: { attributes: OtlpAttribute[] };
    scopeSpans: { spans: OtlpSpan[] }[];
  }[];
}

/** A span as received, with its resource's `service.name`. */
interface Received {
  service: string;
  resource: Record<string, unknown>;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, unknown>;
}

// OTLP's SpanKind numbers (opentelemetry/proto/trace/v1/trace.proto).
const SERVER = 2;
const CLIENT = 3;
const PRODUCER = 4;
const CONSUMER = 5;

const env = new TestEnv();
const spans: Received[] = [];
const requests: { path: string; type: string }[] = [];
let receiver: Server;
let node: Proc;
let port: number;

function attributes(list: OtlpAttribute[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { key, value } of list ?? [])
    out[key] = value.stringValue ?? value.intValue ?? value.boolValue;
  return out;
}

/** An OTLP/HTTP receiver: POST /v1/traces, JSON body (gzip or not), answers an empty success. */
function startReceiver(): Promise<number> {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push({ path: req.url ?? '', type: String(req.headers['content-type']) });
      let raw = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
      const body = JSON.parse(raw.toString('utf8')) as ExportRequest;
      for (const rs of body.resourceSpans) {
        const resource = attributes(rs.resource.attributes);
        const service = String(resource['service.name']);
        for (const ss of rs.scopeSpans) {
          for (const s of ss.spans) {
            spans.push({
              service,
              resource,
              traceId: s.traceId,
              spanId: s.spanId,
              parentSpanId: s.parentSpanId ?? '',
              name: s.name,
              kind: s.kind,
              attributes: attributes(s.attributes),
            });
          }
        }
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
    });
  });
  return new Promise((resolve) =>
    receiver.listen(0, '127.0.0.1', () => resolve((receiver.address() as { port: number }).port)),
  );
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  requireBuild();
  const otlpPort = await startReceiver();
  port = await freePort();
  const config = join(env.registryDir, 'svc.yml');
  writeFileSync(
    config,
    `instances:
  Web: { command: svc instance --config=conf/web.yml, cwd: ${TOUR} }
  Greeting: { command: svc instance --config=conf/greeting.yml, cwd: ${TOUR} }
  Listen: { command: svc instance --config=conf/listen.yml, cwd: ${TOUR} }
sockets:
  Web: { port: ${port} }
`,
  );
  node = env.spawn(['node', '--config', config], {
    env: {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${otlpPort}`,
      OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json',
      OTEL_BSP_SCHEDULE_DELAY: '100',
      OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment.name=e2e',
      // Each call's record printed too (`log.calls: output`): a test reads Greeting.greet's.
      SVC_LOG_CALLS: 'output',
    },
  });
  const deadline = Date.now() + 30_000;
  let seen = '';
  while (
    (seen = (await env.run(['discover'])).stdout.trim()) !== 'Greeting [1]\nListen [1]\nWeb [1]'
  ) {
    if (Date.now() > deadline)
      throw new Error(`the cluster did not come up: svc discover says:\n${seen}\n${node.stderr}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 60_000);

afterAll(async () => {
  await env.stop();
  await new Promise((r) => receiver.close(r));
});

describe('OpenTelemetry export of the tour', () => {
  it('makes one GET /greet one trace, parented across Web, Greeting and Listen', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/greet?name=Flynne`, {
      // Not trusted by the tour's Web (http.trust_trace_header is off): a new trace starts.
      headers: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hi, Flynne!');
    const traceId = res.headers.get('x-trace-id')!;
    const traceparent = res.headers.get('traceparent')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(traceparent).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const ofTrace = () => spans.filter((s) => s.traceId === traceId);
    const deadline = Date.now() + 15_000;
    while (ofTrace().length < 5 && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    const trace = ofTrace();
    expect(
      trace.map((s) => `${s.service} ${s.name}`),
      `${JSON.stringify(requests)}\n${node.stderr.slice(-3000)}`,
    ).toHaveLength(5);
    expect(spans.filter((s) => s.traceId === '4bf92f3577b34da6a3ce929d0e0e4736')).toEqual([]);

    const find = (service: string, name: string, kind: number): Received => {
      const found = trace.filter(
        (s) => s.service === service && s.name === name && s.kind === kind,
      );
      expect(found, `${service} ${name} in ${JSON.stringify(trace, null, 1)}`).toHaveLength(1);
      return found[0]!;
    };
    const http = find('Web', 'GET /greet', SERVER);
    const client = find('Web', 'Greeting/greet', CLIENT);
    const server = find('Greeting', 'Greeting/greet', SERVER);
    const publish = find('Greeting', 'publish greeted', PRODUCER);
    const process = find('Listen', 'process greeted', CONSUMER);

    // The HTTP span is the trace's root and the one the response names.
    expect(http.parentSpanId).toBe('');
    expect(traceparent.split('-')[2]).toBe(http.spanId);
    expect(client.parentSpanId).toBe(http.spanId);
    expect(server.parentSpanId).toBe(client.spanId);
    expect(publish.parentSpanId).toBe(server.spanId);
    expect(process.parentSpanId).toBe(publish.spanId);

    // The semantic conventions' attributes.
    expect(http.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/greet' });
    for (const s of [client, server]) {
      expect(s.attributes).toMatchObject({
        'rpc.system': 'svc',
        'rpc.service': 'Greeting',
        'rpc.method': 'greet',
      });
    }
    expect(publish.attributes).toMatchObject({
      'messaging.operation.type': 'publish',
      'messaging.destination.name': 'greeted',
    });
    expect(process.attributes).toMatchObject({
      'messaging.operation.type': 'process',
      'messaging.destination.name': 'greeted',
    });
    expect(requests.every((r) => r.path === '/v1/traces' && r.type.includes('json'))).toBe(true);
    // OTEL_RESOURCE_ATTRIBUTES reached every process's resource, beside svc's instance id.
    for (const s of trace) {
      expect(s.resource['deployment.environment.name']).toBe('e2e');
      expect(s.resource['service.instance.id']).toMatch(/^[0-9a-f]{16}$/);
    }
  });

  it('puts the span ids on the log lines, so the logs of a trace make the same tree', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/greet?name=Sam`);
    const traceId = res.headers.get('x-trace-id')!;
    const lines = () =>
      `${node.stdout}\n${node.stderr}`
        .split('\n')
        .map((l) => l.replace(/^\S+ +\| /, ''))
        .filter((l) => l.startsWith('{') && l.includes(traceId))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const wanted = ['About to greet Sam', 'Saying hi to Sam', 'Somebody greeted Sam'];
    // Three processes write through svc node in their own time: wait for every line.
    await node.waitFor(
      () =>
        wanted.every((m) => lines().some((l) => l['msg'] === m)) &&
        lines().some((l) => l['entrypoint'] === 'Greeting.greet'),
      'the lines of the three services',
      10_000,
    );
    const said = (msg: string) => lines().find((l) => l['msg'] === msg)!;
    for (const msg of wanted) expect(said(msg)['spanId']).toMatch(/^[0-9a-f]{16}$/);
    const greetOutcome = lines().find((l) => l['entrypoint'] === 'Greeting.greet')!;
    expect(greetOutcome['spanId']).toBe(said('Saying hi to Sam')['spanId']);
    expect(greetOutcome['parentSpanId']).toMatch(/^[0-9a-f]{16}$/);
  });

  it('svc tail --trace nests the calls of an exported trace under the workers that made them', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/greet?name=Tam`);
    expect(res.status).toBe(200);
    const traceId = res.headers.get('x-trace-id')!;
    // Every span exported (the last one, Listen's, ends last) and so every record written.
    const ofTrace = () => spans.filter((s) => s.traceId === traceId);
    await node.waitFor(() => ofTrace().length === 5, 'the five spans of the request', 15_000);
    const { code, stdout, stderr } = await env.run(['tail', '--trace', traceId, '--no-follow']);
    expect(code, stderr).toBe(0);
    const rows = treeRows(stdout);
    const parentOf = (msg: string) => parentIn(rows, msg);
    expect(rows[0]).toEqual({ service: 'Web', depth: 0, msg: 'http GET /greet 200' });
    expect(parentOf('http Web.greet ok')).toBe('http GET /greet 200');
    expect(parentOf('About to greet Tam')).toBe('http Web.greet ok');
    // Its parent is Web's client span, which no record holds: Web's record names the span it sent.
    expect(parentOf('rpc Greeting.greet ok')).toBe('http Web.greet ok');
    expect(parentOf('Saying hi to Tam')).toBe('rpc Greeting.greet ok');
    // Its parent is Greeting's producer span.
    expect(parentOf('event Listen.onGreeted ok')).toBe('rpc Greeting.greet ok');
    expect(parentOf('Somebody greeted Tam')).toBe('event Listen.onGreeted ok');
    expect(rows.find((r) => r.msg === 'Somebody greeted Tam')).toMatchObject({
      service: 'Listen',
      depth: 4,
    });
    expect(rows).toHaveLength(7);

    // What was exported is unchanged: the callee's span hangs under the client span, not the worker.
    const find = (name: string, kind: number) =>
      ofTrace().find((s) => s.name === name && s.kind === kind)!;
    expect(find('Greeting/greet', SERVER).parentSpanId).toBe(find('Greeting/greet', CLIENT).spanId);
    expect(find('process greeted', CONSUMER).parentSpanId).toBe(
      find('publish greeted', PRODUCER).spanId,
    );
  });

  it("the dashboard's trace view nests the calls of an exported trace as reported, not by timing", async () => {
    const dashboard = env.spawn(['dashboard', '--port', '0']);
    try {
      const address = /http:\/\/127\.0\.0\.1:(\d+)\/#token=(\S+)/;
      await dashboard.waitFor((p) => address.test(p.stdout), 'the dashboard', 30_000);
      const [, dashPort, token] = address.exec(dashboard.stdout)!;
      const res = await fetch(`http://127.0.0.1:${port}/greet?name=Kim`);
      expect(res.status).toBe(200);
      const traceId = res.headers.get('x-trace-id')!;
      // Every span exported (the last one, Listen's, ends last) and so every record written.
      await node.waitFor(
        () => spans.filter((s) => s.traceId === traceId).length === 5,
        'the five spans of the request',
        15_000,
      );
      const answer = await fetch(`http://127.0.0.1:${dashPort}/api/traces/${traceId}`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(answer.status).toBe(200);
      const trace = (await answer.json()) as {
        spans: { id: string; parentId?: string; name: string; inferred: boolean }[];
      };
      const step = (name: string) => {
        const found = trace.spans.filter((s) => s.name === name);
        expect(found, `${name} in ${JSON.stringify(trace.spans)}`).toHaveLength(1);
        return found[0]!;
      };
      const request = step('GET /greet 200');
      const handler = step('Web.greet');
      // Their parents are Web's client span and Greeting's producer span, which no record holds:
      // the records of the workers that sent them list them.
      expect(step('Greeting.greet')).toMatchObject({ parentId: handler.id, inferred: false });
      expect(step('Listen.onGreeted')).toMatchObject({
        parentId: step('Greeting.greet').id,
        inferred: false,
      });
      expect(handler).toMatchObject({ parentId: request.id, inferred: false });
      expect(request.parentId).toBeUndefined();
      // So the page does not say "steps nested by timing".
      expect(trace.spans.filter((s) => s.inferred)).toEqual([]);
    } finally {
      dashboard.child.kill('SIGTERM');
      await dashboard.exited;
    }
  });
});
