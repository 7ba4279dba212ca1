import type { LogRecord } from '@svc/core';
import type { Span, Trace, TraceSummary } from './wire.js';

export type { Span, Trace, TraceSummary };

/** Clock slack between a span's start as computed and the records around it, ms. */
const SLACK = 1;

/** How far a span moves back among spans starting within the slack of it (see buildTrace). */
const MAX_SLACK_MOVES = 64;

/** How many spans of its instance a log record's owner is looked for among (see innermostAt). */
const MAX_OWNER_LOOKBACK = 512;

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
 * records. A span's parent is, where the records say so exactly: the step
 * with the same span id that started before it (an HTTP handler's
 * request); else the step whose span id it reports as its parent; else
 * (OTLP export on: it reports its caller's client or producer span) the
 * step whose record lists that id in `sentSpanIds`. Otherwise it is
 * guessed from timing: the innermost earlier span that was still running
 * when it ended (a caller waits for its callee), else, and always for an
 * event handler (its emitter does not wait for it), the latest one
 * started before it.
 *
 * Spans are put in one order first (start time; of two starting within
 * the clock's slack, the one ending later first; then a span whose exact
 * parent came later is moved after it), and a parent is always earlier in
 * it, so the result is a tree whatever the records say: an exact link
 * that would close a cycle (a span naming itself, records naming each
 * other) is dropped at the cycle's earliest span, which is then nested by
 * timing. Of two records listing the same sent id, the earlier one's span
 * is the parent. Parents are found in maps built once per trace (and, by
 * timing, on a stack), never by scanning the other spans.
 */
export function buildTrace(traceId: string, records: readonly LogRecord[]): Trace {
  const mine = records.filter((r) => r.traceId === traceId);
  const spans: Span[] = [];
  const plain: LogRecord[] = [];
  // the span that caused each step, by the W3C id its outcome record reported
  const reported = new Map<Span, string>();
  // the client and producer span ids each step's record lists (OTLP export on)
  const sentOf = new Map<Span, readonly unknown[]>();
  for (const record of mine) {
    const s = spanOf(record);
    if (s) {
      const { parentSpanId, ...rest } = s;
      const span: Span = {
        ...rest,
        id: `${s.instance ?? '?'}:${s.name}:${record.time}:${spans.length}`,
        logs: [],
        inferred: false,
      };
      if (parentSpanId !== undefined) reported.set(span, parentSpanId);
      const sent = record['sentSpanIds'];
      if (Array.isArray(sent)) sentOf.set(span, sent as unknown[]);
      spans.push(span);
    } else plain.push(record);
  }
  spans.sort((a, b) => a.start - b.start);
  for (let i = 1; i < spans.length; i++) {
    // Bounded: a burst of spans all starting within the slack would make this quadratic.
    for (let j = i; j > 0 && i - j < MAX_SLACK_MOVES; j--) {
      const a = spans[j - 1]!;
      const b = spans[j]!;
      if (Math.abs(a.start - b.start) > SLACK || end(b) <= end(a)) break;
      spans[j - 1] = b;
      spans[j] = a;
    }
  }

  // The lookups, built once, in that order: the spans of each span id, and the first span that
  // lists each sent id.
  const bySpanId = new Map<string, Span[]>();
  const sentBy = new Map<string, Span>();
  const exact = new Map<Span, Span>();
  for (const span of spans) {
    if (span.spanId === undefined) continue;
    const same = bySpanId.get(span.spanId);
    // An HTTP handler's records carry its request's span id: the one before is around it.
    if (same) {
      exact.set(span, same[same.length - 1]!);
      same.push(span);
    } else bySpanId.set(span.spanId, [span]);
  }
  for (const span of spans)
    for (const id of sentOf.get(span) ?? [])
      if (typeof id === 'string' && !sentBy.has(id)) sentBy.set(id, span);
  for (const span of spans) {
    const cause = reported.get(span);
    if (exact.has(span) || cause === undefined) continue;
    // The innermost step with the reported span id (a handler, not its request).
    const parent = bySpanId.get(cause)?.at(-1) ?? sentBy.get(cause);
    if (parent && parent !== span) exact.set(span, parent);
  }

  // Each span has one exact parent at most: a cycle is found by walking up from each span once.
  const order = new Map(spans.map((s, i) => [s, i]));
  const walked = new Map<Span, 'walking' | 'done'>();
  for (const span of spans) {
    const path: Span[] = [];
    let up: Span | undefined = span;
    while (up && !walked.has(up)) {
      walked.set(up, 'walking');
      path.push(up);
      up = exact.get(up);
    }
    if (up && walked.get(up) === 'walking') {
      const cycle = path.slice(path.indexOf(up));
      let first = cycle[0]!;
      for (const s of cycle) if (order.get(s)! < order.get(first)!) first = s;
      exact.delete(first);
    }
    for (const s of path) walked.set(s, 'done');
  }
  // Time order, but a span whose exact parent started later (clocks, a hostile record) after it.
  const ordered: Span[] = [];
  const placed = new Set<Span>();
  for (const span of spans) {
    const chain: Span[] = [];
    for (let up: Span | undefined = span; up && !placed.has(up); up = exact.get(up)) {
      placed.add(up);
      chain.push(up);
    }
    for (let k = chain.length - 1; k >= 0; k--) ordered.push(chain[k]!);
  }

  // The earlier spans still running when each ended, the latest on top: one ending sooner than a
  // later one never contains a span that the later one does not, so it leaves the stack for good.
  const running: Span[] = [];
  ordered.forEach((span, i) => {
    const parent = exact.get(span);
    if (parent) span.parentId = parent.id;
    else {
      while (running.length > 0 && end(running.at(-1)!) + SLACK < end(span)) running.pop();
      const before = ordered[i - 1];
      // An emitter never waits for the handlers of its event: no containment to go by.
      const guess = span.kind === 'event' ? before : (running.at(-1) ?? before);
      if (guess) {
        span.parentId = guess.id;
        span.inferred = true;
      }
    }
    running.push(span);
  });

  // A record belongs to the innermost span with its span id (a worker's records carry it),
  // else to the innermost span of its instance that was running when it was made.
  const logs: LogRecord[] = [];
  const byInstance = new Map<string | undefined, Span[]>();
  for (const s of spans) {
    const list = byInstance.get(s.instance);
    if (list) list.push(s);
    else byInstance.set(s.instance, [s]);
  }
  for (const list of byInstance.values()) list.sort((a, b) => a.start - b.start);
  for (const record of plain) {
    let owner: Span | undefined;
    const same = record.spanId === undefined ? undefined : bySpanId.get(record.spanId);
    for (const s of same ?? []) if (!owner || s.duration < owner.duration) owner = s;
    owner ??= innermostAt(byInstance.get(record.instance), record.time);
    if (owner) owner.logs.push(record);
    else logs.push(record);
  }

  let start = Infinity;
  let last = -Infinity;
  for (const s of spans) {
    start = Math.min(start, s.start);
    last = Math.max(last, end(s));
  }
  for (const r of mine) {
    start = Math.min(start, r.time);
    last = Math.max(last, r.time);
  }
  if (start === Infinity) start = last = 0;
  return {
    traceId,
    start,
    duration: last - start,
    spans: depthFirst(ordered),
    logs,
    services: [...new Set([...spans.map((s) => s.service), ...plainServices(plain)])].sort(),
  };
}

/**
 * `trace` as a view shows it: its first `maxSpans` steps (depth-first, so
 * every step kept has its parent) and at most `maxRecords` log records in
 * all, those of the steps first; `omitted` counts what was left out, if
 * anything was. A batch job of thousands of calls in one trace is a
 * legitimate trace, and a page of all its steps is not one to read.
 */
export function limitTrace(
  trace: Trace,
  maxSpans: number,
  maxRecords: number,
): Trace & { omitted?: { spans: number; records: number } } {
  let omittedRecords = 0;
  const shown = trace.spans.slice(0, maxSpans);
  for (let i = maxSpans; i < trace.spans.length; i++) omittedRecords += trace.spans[i]!.logs.length;
  let left = maxRecords;
  const spans = shown.map((span) => {
    if (span.logs.length <= left) {
      left -= span.logs.length;
      return span;
    }
    omittedRecords += span.logs.length - left;
    const cut = { ...span, logs: span.logs.slice(0, left) };
    left = 0;
    return cut;
  });
  const logs = trace.logs.slice(0, left);
  omittedRecords += trace.logs.length - logs.length;
  const omittedSpans = trace.spans.length - shown.length;
  if (omittedSpans === 0 && omittedRecords === 0) return trace;
  return { ...trace, spans, logs, omitted: { spans: omittedSpans, records: omittedRecords } };
}

function end(s: Span): number {
  return s.start + s.duration;
}

/**
 * The shortest of `spans` (sorted by start) running at `time`, within the
 * slack: looked for back from the last one started by then. One that
 * started before `time - d` lasts longer than `d`, so the search stops
 * there once a candidate of `d` is found, and after
 * {@link MAX_OWNER_LOOKBACK} spans in any case (a trace of thousands of
 * calls stays a matter of milliseconds; a record then unowned is shown at
 * the trace's level).
 */
function innermostAt(spans: readonly Span[] | undefined, time: number): Span | undefined {
  if (spans === undefined) return undefined;
  let lo = 0;
  let hi = spans.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (spans[mid]!.start - SLACK <= time) lo = mid + 1;
    else hi = mid;
  }
  let owner: Span | undefined;
  for (let i = lo - 1; i >= 0 && lo - i <= MAX_OWNER_LOOKBACK; i--) {
    const s = spans[i]!;
    if (owner && time - s.start > owner.duration + 2 * SLACK) break;
    if (time > end(s) + SLACK) continue;
    if (!owner || s.duration < owner.duration) owner = s;
  }
  return owner;
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
  // A stack, not recursion: a chain of calls thousands deep is a trace as good as any.
  const stack = [...(children.get(undefined) ?? [])].reverse();
  for (let s = stack.pop(); s !== undefined; s = stack.pop()) {
    out.push(s);
    const kids = children.get(s.id);
    if (kids) for (let k = kids.length - 1; k >= 0; k--) stack.push(kids[k]!);
  }
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
