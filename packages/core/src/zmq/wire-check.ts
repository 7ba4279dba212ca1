import type { CallHeaders } from '../context-headers.js';
import { newTraceId } from '../context.js';
import { MalformedRequestError } from '../errors.js';

/** Whether a decoded value is a plain map (not null, not a list). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Whether a decoded value can be the number of a stop notice or of its
 * acknowledgement (`{ g: n }`, `{ a: n }`: see link.ts): a positive safe integer.
 */
export const isNoticeNumber = (v: unknown): v is number =>
  Number.isSafeInteger(v) && (v as number) >= 1;

/** Longest trace id kept from a peer (ours are 32 hex characters). */
export const MAX_TRACE_ID = 128;
/** Most call ids a received stack may hold, and the longest one. */
export const MAX_STACK_ENTRIES = 64;
export const MAX_CALL_ID = 512;

// Printable ASCII without spaces: a trace id is shown on every log line and
// matched by `svc tail --trace`; a control character or a newline in it forged lines.
const TRACE_ID = /^[\x21-\x7e]+$/;
// eslint-disable-next-line no-control-regex -- the point is to find control characters
const CONTROL = /[\x00-\x1f\x7f]/;

/**
 * A trace id as received from a peer (any transport, or an HTTP header):
 * itself when it is a short printable token, else a new one, so that a
 * hostile or broken peer cannot make log lines vanish, lie or balloon.
 */
export function checkTraceId(value: unknown): string {
  return typeof value === 'string' &&
    value.length > 0 &&
    value.length <= MAX_TRACE_ID &&
    TRACE_ID.test(value)
    ? value
    : newTraceId();
}

/**
 * Checks the call headers received from a peer and copies only the known
 * fields. A trace id that is not a short printable token (a number, 4 MiB
 * of text, a newline) is replaced by a new one;
 * a call-id stack that is not a short list of short printable strings is
 * refused (a worker would forward it on every call and event it makes).
 */
export function parseCallHeaders(value: unknown): CallHeaders {
  if (!isObject(value)) throw new MalformedRequestError('message lacks headers');
  const { traceId, callIdStack, data, spanId, traceFlags, traceState } = value;
  return checkCallHeaders(traceId, callIdStack, data, spanId, traceFlags, traceState);
}

/**
 * The headers of a `net` request, sent as a list rather than a map (no
 * keys to write and read on every call): `[traceId, spanId, traceFlags,
 * callIdStack, data, traceState?]`, checked as {@link parseCallHeaders} checks a map.
 */
export function parseCallHeaderList(value: unknown): CallHeaders {
  if (!Array.isArray(value)) throw new MalformedRequestError('message lacks headers');
  const [traceId, spanId, traceFlags, callIdStack, data, traceState] = value as unknown[];
  return checkCallHeaders(traceId, callIdStack, data, spanId, traceFlags, traceState);
}

/** {@link parseCallHeaderList}'s list of `headers`. */
export function callHeaderList(headers: CallHeaders): unknown[] {
  const { traceId, spanId, traceFlags, callIdStack, data, traceState } = headers;
  return traceState === undefined
    ? [traceId, spanId, traceFlags, callIdStack, data]
    : [traceId, spanId, traceFlags, callIdStack, data, traceState];
}

function checkCallHeaders(
  traceId: unknown,
  callIdStack: unknown,
  data: unknown,
  spanId: unknown,
  traceFlags: unknown,
  traceState: unknown,
): CallHeaders {
  if (!Array.isArray(callIdStack) || !isObject(data)) {
    throw new MalformedRequestError('message headers are not { traceId, callIdStack, data }');
  }
  if (callIdStack.length > MAX_STACK_ENTRIES) {
    throw new MalformedRequestError(
      `the call-id stack has ${callIdStack.length} entries, more than ${MAX_STACK_ENTRIES}`,
    );
  }
  for (const id of callIdStack) {
    if (typeof id !== 'string' || id.length > MAX_CALL_ID || CONTROL.test(id)) {
      throw new MalformedRequestError(
        `the call-id stack holds an entry that is not a printable string of at most ${MAX_CALL_ID} characters`,
      );
    }
  }
  const headers: CallHeaders = {
    traceId: checkTraceId(traceId),
    callIdStack: callIdStack as string[],
    data,
  };
  // Trace Context fields are optional (older peers send none) and checked by the worker context.
  if (typeof spanId === 'string') headers.spanId = spanId;
  if (typeof traceFlags === 'number') headers.traceFlags = traceFlags;
  if (typeof traceState === 'string') headers.traceState = traceState;
  return headers;
}
