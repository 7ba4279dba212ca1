import { createHash, randomFillSync } from 'node:crypto';

// W3C Trace Context (https://www.w3.org/TR/trace-context/): a trace id is
// 32 lowercase hex characters, a span ("parent") id 16, neither all zeros.

const SPAN_ID_BYTES = 8;
const spanPool = Buffer.allocUnsafe(SPAN_ID_BYTES * 512);
let spanOffset = spanPool.length;

/** A new span id: 16 hex characters (64 random bits), drawn from a pool refilled 512 at a time. */
export function newSpanId(): string {
  if (spanOffset === spanPool.length) {
    randomFillSync(spanPool);
    spanOffset = 0;
  }
  const id = spanPool.toString('hex', spanOffset, spanOffset + SPAN_ID_BYTES);
  spanOffset += SPAN_ID_BYTES;
  // One in 2^64: an all-zero id is invalid, so draw again.
  return id === '0000000000000000' ? newSpanId() : id;
}

const TRACE_ID = /^[0-9a-f]{32}$/;
const SPAN_ID = /^[0-9a-f]{16}$/;
// Made once: each worker checks the span id its caller sent.
const ZERO_TRACE_ID = '0'.repeat(32);
const ZERO_SPAN_ID = '0'.repeat(16);

/** Whether `id` is a valid W3C trace id (32 lowercase hex, not all zeros). */
export function isTraceId(id: unknown): id is string {
  return typeof id === 'string' && TRACE_ID.test(id) && id !== ZERO_TRACE_ID;
}

/** Whether `id` is a valid W3C span id (16 lowercase hex, not all zeros). */
export function isSpanId(id: unknown): id is string {
  return typeof id === 'string' && SPAN_ID.test(id) && id !== ZERO_SPAN_ID;
}

/**
 * The W3C trace id of an svc trace id. svc's own ids already are one; an id
 * from elsewhere (a trusted `X-Trace-Id`, a Nameko peer's `trace_id`) maps
 * to the first 128 bits of its SHA-256, so that every process of the trace
 * derives the same one.
 */
export function w3cTraceId(traceId: string): string {
  if (isTraceId(traceId)) return traceId;
  return createHash('sha256').update(traceId).digest('hex').slice(0, 32);
}

/** The sampled bit of trace flags. */
export const SAMPLED = 1;

/** What a `traceparent` header holds. */
export interface TraceParent {
  traceId: string;
  spanId: string;
  flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/**
 * Reads a `traceparent` header (version 00, or a later version read as 00
 * says); undefined when it is malformed, so that the request starts a new
 * trace as the recommendation asks.
 */
export function parseTraceparent(value: unknown): TraceParent | undefined {
  if (typeof value !== 'string' || value.length > 512) return undefined;
  const m = TRACEPARENT.exec(value.trim());
  if (!m) return undefined;
  const [, version, traceId, spanId, flags, rest] = m;
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (!isTraceId(traceId) || !isSpanId(spanId)) return undefined;
  return { traceId, spanId, flags: parseInt(flags!, 16) };
}

/** A `traceparent` header (version 00). */
export function formatTraceparent(traceId: string, spanId: string, flags: number): string {
  return `00-${w3cTraceId(traceId)}-${spanId}-${(flags & 0xff).toString(16).padStart(2, '0')}`;
}

/**
 * A `tracestate` header kept as received when it is plausible (printable
 * ASCII, at most 512 characters as the recommendation lets a vendor cut
 * it); undefined otherwise.
 */
export function checkTracestate(value: unknown): string | undefined {
  if (Array.isArray(value)) value = value.join(',');
  if (typeof value !== 'string' || value === '' || value.length > 512) return undefined;
  return /^[\x20-\x7e]*$/.test(value) ? value : undefined;
}
