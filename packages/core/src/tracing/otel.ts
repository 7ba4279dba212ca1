// Loaded only by `startTracing`, when an instance exports its spans: the
// OpenTelemetry SDK is never imported otherwise.
import {
  createTraceState,
  ROOT_CONTEXT,
  SpanKind as OtelKind,
  SpanStatusCode,
  trace,
  type Span,
  type Tracer,
} from '@opentelemetry/api';
import { OTLPTraceExporter as JsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as ProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type IdGenerator,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { ATTR_ERROR_TYPE, ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import { safeJson } from '../log/safe-json.js';
import type { Logger } from '../log/logger.js';
import { w3cTraceId } from './ids.js';
import type {
  ActiveSpan,
  SpanAttributes,
  SpanKind,
  SpanStart,
  SpanTracer,
  Tracing,
  TracingSettings,
} from './tracer.js';

const KINDS: Record<SpanKind, OtelKind> = {
  server: OtelKind.SERVER,
  client: OtelKind.CLIENT,
  producer: OtelKind.PRODUCER,
  consumer: OtelKind.CONSUMER,
  internal: OtelKind.INTERNAL,
};

/**
 * The SDK's tracer draws its own ids; svc's are already chosen (they are in
 * the logs and on the wire), so the id generator hands over the ones of
 * the span being started. `startSpan` reads them synchronously.
 */
class GivenIds implements IdGenerator {
  traceId = '';
  spanId = '';
  generateTraceId(): string {
    return this.traceId;
  }
  generateSpanId(): string {
    return this.spanId;
  }
}

/** An instance's OTLP export: one tracer provider per service (its `service.name`), one exporter each. */
class OtelTracing implements Tracing {
  readonly #settings: TracingSettings;
  readonly #instanceId: string;
  readonly #log: Logger;
  readonly #providers = new Map<string, BasicTracerProvider>();
  readonly #tracers = new Map<string, SpanTracer>();

  constructor(settings: TracingSettings, instance: { id: string; log: Logger }) {
    this.#settings = settings;
    this.#instanceId = instance.id;
    this.#log = instance.log;
  }

  tracer(service: string): SpanTracer {
    let tracer = this.#tracers.get(service);
    if (!tracer) {
      const ids = new GivenIds();
      const provider = new BasicTracerProvider({
        // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES (the env detector) win over svc's names.
        resource: resourceFromAttributes({
          [ATTR_SERVICE_NAME]: service,
          'service.instance.id': this.#instanceId,
        }).merge(detectResources({ detectors: [envDetector] })),
        idGenerator: ids,
        spanProcessors: [new BatchSpanProcessor(this.#exporter())],
      });
      this.#providers.set(service, provider);
      tracer = new SdkTracer(provider.getTracer('@svc/core'), ids);
      this.#tracers.set(service, tracer);
    }
    return tracer;
  }

  #exporter(): SpanExporter {
    const { endpoint, protocol } = this.#settings;
    const url =
      endpoint === undefined
        ? undefined
        : /\/v1\/traces\/?$/.test(endpoint)
          ? endpoint
          : `${endpoint.replace(/\/+$/, '')}/v1/traces`;
    const config = url === undefined ? {} : { url };
    return protocol === 'http/json' ? new JsonExporter(config) : new ProtoExporter(config);
  }

  async shutdown(): Promise<void> {
    const providers = [...this.#providers.values()];
    this.#providers.clear();
    this.#tracers.clear();
    const results = await Promise.allSettled(providers.map((p) => p.shutdown()));
    for (const r of results) {
      if (r.status === 'rejected')
        this.#log.warn(`exporting the last spans failed: ${(r.reason as Error)?.message}`);
    }
  }
}

class SdkTracer implements SpanTracer {
  readonly #tracer: Tracer;
  readonly #ids: GivenIds;

  constructor(tracer: Tracer, ids: GivenIds) {
    this.#tracer = tracer;
    this.#ids = ids;
  }

  start(s: SpanStart): ActiveSpan {
    const traceId = w3cTraceId(s.traceId);
    let parent = ROOT_CONTEXT;
    if (s.parentSpanId !== undefined) {
      parent = trace.setSpanContext(ROOT_CONTEXT, {
        traceId,
        spanId: s.parentSpanId,
        traceFlags: s.traceFlags,
        isRemote: true,
        ...(s.traceState === undefined ? {} : { traceState: createTraceState(s.traceState) }),
      });
    }
    this.#ids.traceId = traceId;
    this.#ids.spanId = s.spanId;
    const span = this.#tracer.startSpan(
      s.name,
      { kind: KINDS[s.kind], attributes: s.attributes },
      parent,
    );
    return new SdkSpan(span);
  }
}

class SdkSpan implements ActiveSpan {
  readonly #span: Span;
  readonly traceFlags: number;

  constructor(span: Span) {
    this.#span = span;
    this.traceFlags = span.spanContext().traceFlags;
  }

  end(error?: unknown, attributes?: SpanAttributes): void {
    const span = this.#span;
    if (!span.isRecording()) return;
    if (attributes) span.setAttributes(attributes);
    if (error !== undefined) {
      const err =
        error instanceof Error
          ? error
          : new Error(typeof error === 'string' ? error : `thrown: ${safeJson(error)}`);
      const code = (err as { code?: unknown }).code;
      span.setAttribute(ATTR_ERROR_TYPE, typeof code === 'string' ? code : err.name);
      span.recordException(err);
      span.setStatus({ code: SpanStatusCode.ERROR, message: err.message });
    }
    span.end();
  }
}

/** Starts an instance's span export with the official SDK and OTLP/HTTP exporter. */
export function startOtelTracing(
  settings: TracingSettings,
  instance: { id: string; log: Logger },
): Tracing {
  return new OtelTracing(settings, instance);
}
