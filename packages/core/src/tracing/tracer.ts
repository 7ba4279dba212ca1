import type { Logger } from '../log/logger.js';

/** OpenTelemetry's span kinds, by name. */
export type SpanKind = 'server' | 'client' | 'producer' | 'consumer' | 'internal';

export type SpanAttributes = Record<string, string | number | boolean>;

/** A span as svc starts it: its ids are svc's, so logs and exported spans agree. */
export interface SpanStart {
  /** svc's trace id (one not in W3C form is mapped, see `w3cTraceId`) */
  traceId: string;
  spanId: string;
  parentSpanId?: string | undefined;
  traceFlags: number;
  traceState?: string | undefined;
  name: string;
  kind: SpanKind;
  attributes: SpanAttributes;
}

/** A span being recorded; `end` once. */
export interface ActiveSpan {
  /** the trace flags the span's children inherit: the sampler's decision */
  readonly traceFlags: number;
  /** Ends the span; a thrown `error` marks it failed (status ERROR, an exception event). */
  end(error?: unknown, attributes?: SpanAttributes): void;
}

/** Starts the spans of one service. */
export interface SpanTracer {
  start(span: SpanStart): ActiveSpan;
}

/** An instance's span export: a tracer per service; `shutdown` flushes what is left. */
export interface Tracing {
  tracer(service: string): SpanTracer;
  shutdown(): Promise<void>;
}

/** Where and how spans are exported (OTLP over HTTP). */
export interface TracingSettings {
  /** base URL (`/v1/traces` is added) or undefined: the exporter reads the OTEL_ variables */
  endpoint?: string;
  protocol: 'http/protobuf' | 'http/json';
}

/** `tracing:` in an instance's config. */
export interface TracingConfig {
  /** OTLP/HTTP endpoint (`http://127.0.0.1:4318`), or true to export where OTEL_ variables say */
  otlp?: string | boolean;
  /** `http/protobuf` (default) or `http/json` */
  protocol?: string;
}

/**
 * Whether an instance exports its spans, and where: on when the config says
 * `tracing.otlp`, or OTEL_EXPORTER_OTLP_(TRACES_)ENDPOINT is set, or
 * OTEL_TRACES_EXPORTER names `otlp`; off with OTEL_SDK_DISABLED=true,
 * OTEL_TRACES_EXPORTER=none or `tracing.otlp: false`. Undefined when off.
 */
export function tracingSettings(
  config: TracingConfig,
  env: NodeJS.ProcessEnv = process.env,
): TracingSettings | undefined {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return undefined;
  const exporters = (env['OTEL_TRACES_EXPORTER'] ?? '')
    .split(',')
    .map((e) => e.trim().toLowerCase())
    .filter((e) => e !== '');
  if (exporters.includes('none') || config.otlp === false) return undefined;
  const envOn =
    exporters.includes('otlp') ||
    Boolean(env['OTEL_EXPORTER_OTLP_ENDPOINT'] || env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT']);
  if (!envOn && (config.otlp === undefined || config.otlp === '')) return undefined;
  const protocol = (
    config.protocol ??
    env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ??
    env['OTEL_EXPORTER_OTLP_PROTOCOL'] ??
    'http/protobuf'
  ).trim();
  if (protocol !== 'http/protobuf' && protocol !== 'http/json') {
    throw new TypeError(
      `OTLP protocol "${protocol}" is not supported: use http/protobuf or http/json`,
    );
  }
  const settings: TracingSettings = { protocol };
  if (typeof config.otlp === 'string') settings.endpoint = config.otlp;
  return settings;
}

/**
 * Loads the OpenTelemetry SDK and exporter (only now: an instance that
 * exports nothing never loads them) and starts an instance's export.
 */
export async function startTracing(
  settings: TracingSettings,
  instance: { id: string; log: Logger },
): Promise<Tracing> {
  let otel: typeof import('./otel.js');
  try {
    otel = await import('./otel.js');
  } catch (err) {
    throw new Error(
      `tracing export needs the @opentelemetry packages, which could not be loaded (${(err as Error).message}): install @svc/core's optional dependencies`,
      { cause: err },
    );
  }
  return otel.startOtelTracing(settings, instance);
}
