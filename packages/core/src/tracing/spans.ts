import type { WorkerContext } from '../context.js';
import type { EntrypointMeta } from '../decorators.js';
import type { EventMessage } from '../events/transport.js';
import { safeJson } from '../log/safe-json.js';
import type { SpanAttributes, SpanStart } from './tracer.js';

// Span names and attributes follow OpenTelemetry's semantic conventions for
// RPC (`rpc.system`, `rpc.service`, `rpc.method`, name `Service/method`),
// messaging (`publish <type>` and `process <type>`) and HTTP servers
// (`GET /route`). The RPC and messaging attributes are still "incubating"
// in @opentelemetry/semantic-conventions, which asks users to copy them.

/** `rpc.system` of svc's own RPC protocol (OpenTelemetry lets a custom system name itself). */
export const RPC_SYSTEM = 'svc';
export const MESSAGING_SYSTEM = 'svc';

/** Longest serialized argument value put on a span (`svc.rpc.params`). */
const MAX_ARGS_CHARS = 1024;

// What a worker's span learns only at its end (an HTTP route's status), by worker.
const endAttributes = new WeakMap<WorkerContext, () => SpanAttributes>();

/** The span attributes of a worker's outcome that its arguments hold: an HTTP response's status. */
export function watchOutcome(
  ctx: WorkerContext,
  ep: EntrypointMeta,
  args: readonly unknown[],
): void {
  if (ep.kind !== 'http') return;
  const response = args[1] as { raw?: { statusCode?: unknown } } | undefined;
  endAttributes.set(ctx, (): SpanAttributes => {
    const status = response?.raw?.statusCode;
    return typeof status === 'number' ? { 'http.response.status_code': status } : {};
  });
}

/** What {@link watchOutcome} found at the worker's end. */
export function outcomeAttributes(ctx: WorkerContext): SpanAttributes | undefined {
  return endAttributes.get(ctx)?.();
}

/** The span of a worker: RPC server, event consumer, HTTP server or timer. */
export function workerSpan(
  service: string,
  ep: EntrypointMeta,
  ctx: WorkerContext,
  args: readonly unknown[],
): SpanStart {
  let name: string;
  let kind: SpanStart['kind'];
  let attributes: SpanAttributes;
  switch (ep.kind) {
    case 'rpc': {
      name = `${service}/${ep.name}`;
      kind = 'server';
      attributes = rpcAttributes(service, ep.name);
      const params = ctx.args;
      if (params !== undefined) attributes['svc.rpc.params'] = clip(safeJson(params));
      break;
    }
    case 'event': {
      const event = args[1] as EventMessage | undefined;
      name = `process ${ep.type}`;
      kind = 'consumer';
      attributes = messagingAttributes(ep.type, 'process', event?.id);
      attributes['messaging.consumer.group.name'] = service;
      if (event?.source !== undefined) attributes['svc.event.source'] = event.source;
      break;
    }
    case 'http':
      name = `${ep.verb} ${ep.path}`;
      kind = 'server';
      attributes = { 'http.request.method': ep.verb, 'http.route': ep.path };
      break;
    case 'timer':
      name = `timer ${service}.${ep.method}`;
      kind = 'internal';
      attributes = { 'code.function.name': `${service}.${ep.method}` };
      break;
  }
  return {
    traceId: ctx.traceId,
    spanId: ctx.spanId,
    parentSpanId: ctx.parentSpanId,
    traceFlags: ctx.traceFlags,
    traceState: ctx.traceState,
    name,
    kind,
    attributes,
  };
}

export function rpcAttributes(service: string, method: string): SpanAttributes {
  return { 'rpc.system': RPC_SYSTEM, 'rpc.service': service, 'rpc.method': method };
}

export function messagingAttributes(
  type: string,
  operation: 'publish' | 'process',
  id: string | undefined,
): SpanAttributes {
  const attributes: SpanAttributes = {
    'messaging.system': MESSAGING_SYSTEM,
    'messaging.operation.type': operation,
    'messaging.operation.name': operation,
    'messaging.destination.name': type,
  };
  if (id !== undefined) attributes['messaging.message.id'] = id;
  return attributes;
}

function clip(text: string): string {
  return text.length <= MAX_ARGS_CHARS ? text : `${text.slice(0, MAX_ARGS_CHARS)}…`;
}
