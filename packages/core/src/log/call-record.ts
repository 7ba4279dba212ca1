// The JSON line of a successful worker's record, made from the parts of it
// that never change for an entrypoint (see RecordLogger.callOk).
import { safeJson } from './safe-json.js';

/** The parts of a successful worker's record that never change for its entrypoint. */
export interface CallRecordTemplate {
  readonly msg: string;
  readonly kind: string;
  readonly entrypoint: string;
  /** `"msg":"…"` */
  readonly msgJson: string;
  /** `,"kind":"…","entrypoint":"…"` */
  readonly tailJson: string;
}

/** What a successful worker's record takes from the worker. */
export interface CallRecordIds {
  readonly traceId: string;
  /** W3C span ids (16 hex characters, as a WorkerContext's are): written into JSON as they are */
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly service: string;
  /** the span ids of the calls and events the worker sent, when they had spans of their own (export on) */
  readonly sentSpanIds?: readonly string[] | undefined;
}

/** The template of the records of `entrypoint`'s successful workers, `msg` their message. */
export function callRecordTemplate(
  kind: string,
  entrypoint: string,
  msg: string,
): CallRecordTemplate {
  return {
    msg,
    kind,
    entrypoint,
    msgJson: `"msg":${JSON.stringify(msg)}`,
    tailJson: `,"kind":${JSON.stringify(kind)},"entrypoint":${JSON.stringify(entrypoint)}`,
  };
}

// Keys a successful worker's record sets itself: a logger whose own fields
// hold one of them takes the general path, so that the record and its line agree.
const CALL_RECORD_KEYS = new Set([
  'time',
  'level',
  'msg',
  'traceId',
  'spanId',
  'kind',
  'entrypoint',
  'duration_ms',
  'parentSpanId',
  'sentSpanIds',
]);

export function fieldsJson(fields: Record<string, unknown>): string | undefined {
  let json = '';
  for (const key of Object.keys(fields)) {
    if (CALL_RECORD_KEYS.has(key)) return undefined;
    const value = safeJson(fields[key]) as string | undefined;
    // undefined, a function: left out of the record's JSON altogether
    if (value === undefined) continue;
    json += `,${JSON.stringify(key)}:${value}`;
  }
  return json;
}

// Ids and names made of these need no escaping in JSON; anything else is escaped by JSON.stringify.
const PLAIN = /^[\w.:-]*$/;
export function jsonString(value: string): string {
  return PLAIN.test(value) ? `"${value}"` : JSON.stringify(value);
}
