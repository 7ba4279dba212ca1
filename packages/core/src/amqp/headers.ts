import type { CallHeaders } from '../context-headers.js';
import { newTraceId } from '../context.js';
import { checkTracestate, formatTraceparent, parseTraceparent, SAMPLED } from '../tracing/ids.js';
import { receivedTimeout } from '../rpc/transport.js';
import { MAX_CALL_ID, MAX_STACK_ENTRIES, checkTraceId } from '../zmq/wire-check.js';

/** Nameko's header prefix (`nameko/constants.py` HEADER_PREFIX). */
export const HEADER_PREFIX = 'nameko.';

/** Context key svc's trace id travels under (`nameko.trace_id` on the wire). */
export const TRACE_ID_KEY = 'trace_id';
const CALL_ID_STACK_KEY = 'call_id_stack';

/**
 * svc's header of an RPC request's deadline: the milliseconds that remained
 * of it when the request was sent (clocks need not agree). Nameko ignores
 * it, except that a Nameko worker forwards it, as every header, on its own
 * calls (as `nameko.x-svc-timeout-ms`): it is read under either name, and
 * is never context data.
 */
export const TIMEOUT_HEADER = 'x-svc-timeout-ms';

/**
 * W3C Trace Context travels as plain `traceparent` and `tracestate`
 * headers beside Nameko's. A Nameko worker keeps every header as context
 * data and sends it on prefixed (`nameko.traceparent`): such a forwarded one
 * names an earlier span, not the sender's, so it is dropped.
 */
const TRACEPARENT = 'traceparent';
const TRACESTATE = 'tracestate';

/** Headers the broker adds when it dead-letters a message; they are not context data. */
const BROKER_HEADER = /^x-(death|first-death-|last-death-|svc-dead-)/;

/**
 * AMQP headers for outgoing calls and events, as Nameko's HeaderEncoder
 * writes them: every context key prefixed `nameko.`, null values dropped,
 * plus `nameko.call_id_stack` and svc's `nameko.trace_id`; and W3C
 * `traceparent` and `tracestate`, unprefixed.
 */
export function encodeHeaders(headers: CallHeaders): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(headers.data)) {
    if (value === undefined || value === null) continue;
    out[HEADER_PREFIX + key] = value;
  }
  out[HEADER_PREFIX + CALL_ID_STACK_KEY] = [...headers.callIdStack];
  if (headers.traceId) out[HEADER_PREFIX + TRACE_ID_KEY] = headers.traceId;
  if (headers.traceId && headers.spanId) {
    out[TRACEPARENT] = formatTraceparent(
      headers.traceId,
      headers.spanId,
      headers.traceFlags ?? SAMPLED,
    );
    if (headers.traceState) out[TRACESTATE] = headers.traceState;
  }
  return out;
}

/**
 * CallHeaders from received AMQP headers, as Nameko's HeaderDecoder reads
 * them: the `nameko.` prefix is stripped where present and every other
 * header is kept unchanged as context data; broker bookkeeping headers
 * (`x-death` and friends) are left out.
 */
export function decodeHeaders(headers: Record<string, unknown> | undefined): CallHeaders {
  const data: Record<string, unknown> = {};
  let traceId: string | undefined;
  let callIdStack: string[] = [];
  const parent = parseTraceparent(headers?.[TRACEPARENT]);
  for (const [rawKey, value] of Object.entries(headers ?? {})) {
    if (BROKER_HEADER.test(rawKey)) continue;
    if (rawKey === TRACEPARENT || rawKey === TRACESTATE) continue;
    if (rawKey === HEADER_PREFIX + TRACEPARENT || rawKey === HEADER_PREFIX + TRACESTATE) continue;
    const key = rawKey.startsWith(HEADER_PREFIX) ? rawKey.slice(HEADER_PREFIX.length) : rawKey;
    if (key === TIMEOUT_HEADER) continue;
    if (key === CALL_ID_STACK_KEY) {
      callIdStack = toStringList(value);
    } else if (key === TRACE_ID_KEY && typeof value === 'string' && value !== '') {
      traceId = value;
    } else if (key !== '__proto__') {
      data[key] = value;
    }
  }
  // A message without a trace id (Nameko peers send none) joins its
  // `traceparent`'s trace (a peer instrumented with OpenTelemetry), or starts one here; one
  // that is not a short printable token is replaced.
  const out: CallHeaders = {
    traceId: traceId !== undefined ? checkTraceId(traceId) : (parent?.traceId ?? newTraceId()),
    // Kept to the newest entries that are short strings: every call and event the worker makes forwards it.
    callIdStack: callIdStack.filter((id) => id.length <= MAX_CALL_ID).slice(-MAX_STACK_ENTRIES),
    data,
  };
  if (parent) {
    out.spanId = parent.spanId;
    out.traceFlags = parent.flags;
    const state = checkTracestate(headers?.[TRACESTATE]);
    if (state !== undefined) out.traceState = state;
  }
  return out;
}

/**
 * The trace id a received message names (svc's `nameko.trace_id`, else its
 * `traceparent`'s), for the lines written about a message no worker runs
 * (dead-lettered, malformed); undefined when it names none.
 */
export function receivedTraceId(headers: Record<string, unknown> | undefined): string | undefined {
  const own = headers?.[HEADER_PREFIX + TRACE_ID_KEY];
  if (typeof own === 'string' && own !== '') return checkTraceId(own);
  return parseTraceparent(headers?.[TRACEPARENT])?.traceId;
}

/**
 * The milliseconds an RPC request's caller still waits, from its
 * {@link TIMEOUT_HEADER} (svc's own, else as a Nameko worker forwarded
 * it); undefined when it has none or one that is not a number.
 */
export function decodeTimeout(headers: Record<string, unknown> | undefined): number | undefined {
  const value = receivedTimeout(
    headers?.[TIMEOUT_HEADER] ?? headers?.[HEADER_PREFIX + TIMEOUT_HEADER],
  );
  // A header no svc peer wrote (a string from elsewhere): no deadline, as from Nameko.
  return Number.isNaN(value) ? undefined : value;
}

function toStringList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}
