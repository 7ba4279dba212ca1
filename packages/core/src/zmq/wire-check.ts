import type { CallHeaders } from '../context-headers.js';
import { MalformedRequestError } from '../errors.js';

/** Whether a decoded value is a plain map (not null, not a list). */
export const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Checks the call headers received from a peer and copies only the known fields. */
export function parseCallHeaders(value: unknown): CallHeaders {
  if (!isObject(value)) throw new MalformedRequestError('message lacks headers');
  const { traceId, callIdStack, data } = value;
  if (
    typeof traceId !== 'string' ||
    !Array.isArray(callIdStack) ||
    !callIdStack.every((c) => typeof c === 'string') ||
    !isObject(data)
  ) {
    throw new MalformedRequestError('message headers are not { traceId, callIdStack, data }');
  }
  const headers: CallHeaders = { traceId, callIdStack, data };
  // Trace Context fields are optional (older peers send none) and checked by the worker context.
  const { spanId, traceFlags, traceState } = value;
  if (typeof spanId === 'string') headers.spanId = spanId;
  if (typeof traceFlags === 'number') headers.traceFlags = traceFlags;
  if (typeof traceState === 'string') headers.traceState = traceState;
  return headers;
}
