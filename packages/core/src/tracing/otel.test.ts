import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { CaptureLogger } from '../testing/index.js';
import { newSpanId } from './ids.js';
import { startTracing, tracingSettings } from './tracer.js';

const SRC = join(dirname(fileURLToPath(import.meta.url)), '..');

interface Received {
  path: string;
  type: string;
  body: Buffer;
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) await new Promise((r) => s.close(r));
});

async function receiver(): Promise<{ url: string; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({
        path: req.url ?? '',
        type: String(req.headers['content-type']),
        body: Buffer.concat(chunks),
      });
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, received };
}

const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736';

describe('OTLP export', () => {
  it('sends the spans as OTLP protobuf to <endpoint>/v1/traces when it stops', async () => {
    const { url, received } = await receiver();
    const tracing = await startTracing(
      { protocol: 'http/protobuf', endpoint: url },
      { id: 'i-1', log: new CaptureLogger() },
    );
    const spanId = newSpanId();
    const span = tracing.tracer('Greeting').start({
      traceId: TRACE,
      spanId,
      parentSpanId: '00f067aa0ba902b7',
      traceFlags: 1,
      name: 'Greeting/greet',
      kind: 'server',
      attributes: { 'rpc.system': 'svc', 'rpc.service': 'Greeting', 'rpc.method': 'greet' },
    });
    expect(span.traceFlags).toBe(1);
    span.end(new Error('boom'));
    await tracing.shutdown();
    expect(received).toHaveLength(1);
    const [sent] = received as [Received];
    expect(sent.path).toBe('/v1/traces');
    expect(sent.type).toBe('application/x-protobuf');
    // Protobuf carries the ids as raw bytes and the strings as they are.
    for (const bytes of [
      Buffer.from(TRACE, 'hex'),
      Buffer.from(spanId, 'hex'),
      Buffer.from('00f067aa0ba902b7', 'hex'),
      Buffer.from('Greeting/greet'),
      Buffer.from('service.instance.id'),
      Buffer.from('boom'),
    ])
      expect(sent.body.includes(bytes), bytes.toString('hex')).toBe(true);
  });

  it('follows OTEL_TRACES_SAMPLER: an unsampled root passes flags 00 on and exports nothing', async () => {
    const { url, received } = await receiver();
    process.env['OTEL_TRACES_SAMPLER'] = 'always_off';
    try {
      const tracing = await startTracing(
        { protocol: 'http/json', endpoint: url },
        { id: 'i-2', log: new CaptureLogger() },
      );
      const span = tracing.tracer('Web').start({
        traceId: TRACE,
        spanId: newSpanId(),
        traceFlags: 1,
        name: 'GET /greet',
        kind: 'server',
        attributes: {},
      });
      expect(span.traceFlags).toBe(0);
      span.end();
      await tracing.shutdown();
      expect(received).toEqual([]);
    } finally {
      delete process.env['OTEL_TRACES_SAMPLER'];
    }
  });

  it('is on only when config or the OTEL_ variables say so', () => {
    expect(tracingSettings({}, {})).toBeUndefined();
    expect(tracingSettings({ otlp: 'http://collector:4318' }, {})).toEqual({
      endpoint: 'http://collector:4318',
      protocol: 'http/protobuf',
    });
    expect(tracingSettings({}, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' })).toEqual({
      protocol: 'http/protobuf',
    });
    expect(tracingSettings({}, { OTEL_TRACES_EXPORTER: 'otlp' })).toBeDefined();
    expect(
      tracingSettings(
        {},
        { OTEL_TRACES_EXPORTER: 'otlp', OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: 'http/json' },
      ),
    ).toEqual({ protocol: 'http/json' });
    expect(tracingSettings({ otlp: true }, { OTEL_TRACES_EXPORTER: 'none' })).toBeUndefined();
    expect(tracingSettings({ otlp: true }, { OTEL_SDK_DISABLED: 'true' })).toBeUndefined();
    expect(
      tracingSettings({ otlp: false }, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x:4318' }),
    ).toBeUndefined();
    expect(() => tracingSettings({ otlp: true }, { OTEL_EXPORTER_OTLP_PROTOCOL: 'grpc' })).toThrow(
      /grpc" is not supported/,
    );
  });

  it('keeps the OpenTelemetry packages out of every module but the one loaded on demand', () => {
    const files = (dir: string): string[] =>
      readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
        e.isDirectory()
          ? files(join(dir, e.name))
          : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts')
            ? [join(dir, e.name)]
            : [],
      );
    const users = files(SRC)
      .filter((f) => /from '@opentelemetry\//.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(users).toEqual(['tracing/otel.ts']);
    const importers = files(SRC)
      .filter((f) => /(?:from|import) '\.\/otel\.js'/.test(readFileSync(f, 'utf8')))
      .map((f) => relative(SRC, f));
    expect(importers).toEqual([]);
  });
});
