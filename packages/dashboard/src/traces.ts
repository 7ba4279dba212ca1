import type { LogRecord } from '@svc/core';
import type { Span, Trace, TraceSummary } from './wire.js';

export type { Span, Trace, TraceSummary };

/** Clock slack between a span's start as computed and the records around it, ms. */
const SLACK = 1;

/** A worker's outcome record (`rpc Greeting.greet ok`) or an HTTP access record (`http GET /greet 200`). */
export function spanOf(
  record: LogRecord,
): (Omit<Span, 'id' | 'logs' | 'inferred'> & { parentSpanId?: string }) | undefined {
  const duration = record['duration_ms'];
  const kind = record['kind'];
  if (typeof duration !== 'number' || !(duration >= 0) || typeof kind !== 'string') return;
  if (record.traceId === undefined) return;
  const service =
    record.service ??
    (typeof record['entrypoint'] === 'string' ? record['entrypoint'].split('.')[0] : undefined);
  const base = {
    traceId: record.traceId,
    service: service ?? '?',
    ...(record.instance === undefined ? {} : { instance: record.instance }),
    kind,
    start: record.time - duration,
    duration,
    ...(typeof record.spanId === 'string' ? { spanId: record.spanId } : {}),
    ...(typeof record['parentSpanId'] === 'string' ? { parentSpanId: record['parentSpanId'] } : {}),
  };
  if (typeof record['entrypoint'] === 'string') {
    const failed = record.level === 'error' || record.level === 'warn';
    return {
      ...base,
      name: record['entrypoint'],
      status: failed ? 'error' : 'ok',
      ...(failed && typeof record['error_message'] === 'string'
        ? { error: record['error_message'] }
        : {}),
    };
  }
  if (typeof record['method'] === 'string' && typeof record['path'] === 'string') {
    const status = typeof record['status'] === 'number' ? record['status'] : 0;
    return {
      ...base,
      name: `${record['method']} ${record['path']} ${status}`,
      status: status >= 500 ? 'error' : 'ok',
    };
  }
  return undefined;
}

/**
 * A trace from its log records. Spans come from outcome and access
 * records; each span's parent is guessed from timing: the innermost
 * earlier span that was still running when it ended (a caller waits for
 * its callee), else, and always for an event handler (its emitter does not
 * wait for it), the latest one started before it. Spans are put in one order first
 * (start time; of two starting within the clock's slack, the one ending
 * later first), and a parent is always earlier in it, so the result is a
 * tree whatever the timings.
 */
export function buildTrace(traceId: string, records: readonly LogRecord[]): Trace {
  const mine = records.filter((r) => r.traceId === traceId);
  const spans: Span[] = [];
  const plain: LogRecord[] = [];
  // the span that caused each step, by the W3C id its outcome record reported
  const reported = new Map<Span, string>();
  for (const record of mine) {
    const s = spanOf(record);
    if (s) {
      const { parentSpanId, ...rest } = s;
      const span: Span = {
        ...rest,
        id: `${s.instance ?? '?'}:${s.name}:${record.time}:${spans.length}`,
        logs: [],
        inferred: true,
      };
      if (parentSpanId !== undefined) reported.set(span, parentSpanId);
      spans.push(span);
    } else plain.push(record);
  }
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    for (let j = i; j > 0; j--) {
      const a = spans[j - 1]!;
      const b = spans[j]!;
      if (Math.abs(a.start - b.start) > SLACK || end(b) <= end(a)) break;
      spans[j - 1] = b;
      spans[j] = a;
    }
  }
  spans.forEach((span, i) => {
    // Reported first: the step whose span caused this one, or (an HTTP handler) the request
    // whose access record has the same span id. Only an earlier step, so it stays a tree.
    const cause = reported.get(span);
    for (let k = i - 1; k >= 0; k--) {
      const p = spans[k]!;
      if (p.spanId === undefined) continue;
      if (p.spanId === cause || p.spanId === span.spanId) {
        span.parentId = p.id;
        span.inferred = false;
        return;
      }
    }
    let containing: Span | undefined;
    let before: Span | undefined;
    for (let k = i - 1; k >= 0; k--) {
      const p = spans[k]!;
      before ??= p;
      if (end(p) + SLACK >= end(span)) {
        containing = p;
        break;
      }
    }
    // An emitter never waits for the handlers of its event: no containment to go by.
    const parent = span.kind === 'event' ? before : (containing ?? before);
    if (parent) span.parentId = parent.id;
  });

  // A record belongs to the innermost span with its span id (a worker's records carry it),
  // else to the innermost span of its instance that was running when it was made.
  const logs: LogRecord[] = [];
  for (const record of plain) {
    let owner: Span | undefined;
    for (const s of spans) {
      if (s.spanId === undefined || s.spanId !== record.spanId) continue;
      if (!owner || s.duration < owner.duration) owner = s;
    }
    if (owner) {
      owner.logs.push(record);
      continue;
    }
    for (const s of spans) {
      if (s.instance !== record.instance) continue;
      if (record.time < s.start - SLACK || record.time > end(s) + SLACK) continue;
      if (!owner || s.duration < owner.duration) owner = s;
    }
    if (owner) owner.logs.push(record);
    else logs.push(record);
  }

  const times = [...spans.flatMap((s) => [s.start, end(s)]), ...mine.map((r) => r.time)];
  const start = times.length > 0 ? Math.min(...times) : 0;
  const last = times.length > 0 ? Math.max(...times) : 0;
  return {
    traceId,
    start,
    duration: last - start,
    spans: depthFirst(spans),
    logs,
    services: [...new Set([...spans.map((s) => s.service), ...plainServices(plain)])].sort(),
  };
}

function end(s: Span): number {
  return s.start + s.duration;
}

function plainServices(records: readonly LogRecord[]): string[] {
  return records.flatMap((r) => (r.service === undefined ? [] : [r.service]));
}

/** Spans with every child right after its parent, siblings in start order. */
function depthFirst(spans: readonly Span[]): Span[] {
  const children = new Map<string | undefined, Span[]>();
  for (const s of spans) {
    const list = children.get(s.parentId);
    if (list) list.push(s);
    else children.set(s.parentId, [s]);
  }
  const out: Span[] = [];
  const visit = (s: Span) => {
    out.push(s);
    for (const c of children.get(s.id) ?? []) visit(c);
  };
  for (const root of children.get(undefined) ?? []) visit(root);
  return out;
}

/**
 * The recent traces seen on the cluster's log streams, newest first, at
 * most `capacity` of them (the oldest is forgotten first).
 */
export class TraceIndex {
  readonly #capacity: number;
  readonly #traces = new Map<string, TraceSummary>();
  /** when the span named as each trace's edge ran */
  readonly #edges = new Map<string, { start: number; end: number }>();
  /** grows with every record taken: the list changed when it did */
  version = 0;

  constructor(capacity = 500) {
    this.#capacity = capacity;
  }

  add(record: LogRecord): void {
    const id = record.traceId;
    if (id === undefined) return;
    this.version++;
    let t = this.#traces.get(id);
    if (!t) {
      t = {
        traceId: id,
        root: '',
        start: record.time,
        duration: 0,
        services: [],
        spans: 0,
        errors: 0,
        records: 0,
      };
      this.#traces.set(id, t);
      if (this.#traces.size > this.#capacity) {
        const oldest = this.#traces.keys().next().value;
        if (oldest !== undefined) {
          this.#traces.delete(oldest);
          this.#edges.delete(oldest);
        }
      }
    }
    t.records++;
    if (record.level === 'error') t.errors++;
    if (record.service !== undefined && !t.services.includes(record.service)) {
      t.services.push(record.service);
      t.services.sort();
    }
    const span = spanOf(record);
    const endAt = Math.max(t.start + t.duration, record.time);
    if (span) {
      t.spans++;
      // The edge is the span that started first; of two starting together, the one around the other.
      const edge = this.#edges.get(id);
      const spanEnd = span.start + span.duration;
      if (
        !edge ||
        span.start < edge.start - SLACK ||
        (span.start <= edge.start + SLACK &&
          spanEnd >= edge.end &&
          span.duration > edge.end - edge.start)
      ) {
        this.#edges.set(id, { start: span.start, end: spanEnd });
        t.root = `${span.service} ${span.name}`;
      }
    }
    t.start = Math.min(t.start, span ? span.start : record.time);
    t.duration = endAt - t.start;
  }

  /** Newest first (by first sighting), at most `limit`. */
  recent(limit = 100): TraceSummary[] {
    const out = [...this.#traces.values()].slice(-limit);
    return out.reverse();
  }

  get size(): number {
    return this.#traces.size;
  }
}
