// A trace's records as a span tree, for `svc tail --trace` after the fact.
import type { LogRecord } from '@svc/core';

/** Deepest indentation a line gets: deeper spans print at this level. */
export const MAX_DEPTH = 16;

/** A record and how many levels it is indented. */
export interface TreeLine {
  record: LogRecord;
  depth: number;
}

interface Span {
  id: string;
  /** its call records (outcome, HTTP access), outermost first */
  calls: LogRecord[];
  /** its other records (log lines made inside the worker) */
  body: Array<{ record: LogRecord; at: number; index: number }>;
  /** when it started: its outermost call record's time less its duration, else its first record's time */
  at: number;
  /** where its first record was in the input: the tie-break of equal times */
  index: number;
  parent: string | undefined;
  children: Span[];
}

type Entry =
  { span: Span; at: number; index: number } | { record: LogRecord; at: number; index: number };

function durationOf(record: LogRecord): number | undefined {
  const d = record['duration_ms'];
  return typeof d === 'number' && Number.isFinite(d) && d >= 0 ? d : undefined;
}

const byTime = (a: { at: number; index: number }, b: { at: number; index: number }) =>
  a.at - b.at || a.index - b.index;

/**
 * The records of a trace as a tree of spans, depth first. A call record
 * (one with `duration_ms`: a worker's outcome, an HTTP access record) is
 * its span's line; a span's other records (its worker's log lines) and
 * the spans whose `parentSpanId` is it, or one of the ids its call records
 * list in `sentSpanIds` (the client and producer spans of its calls and
 * events, when spans are exported), go one level under it, in the order
 * they started (a call at its record's time less its duration). Two call
 * records of one span (an HTTP request and its handler) nest, the longer
 * one outside. A span whose parent is not among the records, or
 * is itself, and a record without a span go at the top level; spans in a
 * cycle of parents start at the top level from the earliest of them. Each
 * record comes out once; indentation stops at `maxDepth` levels.
 * O(n log n) in the number of records, without recursion.
 */
export function spanTree(records: readonly LogRecord[], maxDepth = MAX_DEPTH): TreeLine[] {
  const spans = new Map<string, Span>();
  const loose: Entry[] = [];
  records.forEach((record, index) => {
    const id = record.spanId;
    if (typeof id !== 'string' || id === '') {
      loose.push({ record, at: record.time, index });
      return;
    }
    let span = spans.get(id);
    if (!span) {
      span = { id, calls: [], body: [], at: record.time, index, parent: undefined, children: [] };
      spans.set(id, span);
    }
    if (durationOf(record) !== undefined) span.calls.push(record);
    else span.body.push({ record, at: record.time, index });
  });

  for (const span of spans.values()) {
    const start = (r: LogRecord) => r.time - (durationOf(r) ?? 0);
    // Outermost first: the calls of one span run one inside the other, so the longest is outside
    // (record times are whole milliseconds: an HTTP request and its handler often start in the same one).
    span.calls.sort((a, b) => durationOf(b)! - durationOf(a)! || start(a) - start(b));
    const outer = span.calls[0];
    if (outer) span.at = start(outer);
    else for (const b of span.body) span.at = Math.min(span.at, b.at);
    for (const call of span.calls) {
      const parent = call['parentSpanId'];
      if (typeof parent === 'string') {
        span.parent = parent;
        break;
      }
    }
  }

  // With span export on, a call goes out by a client span of its own (an event by a producer span),
  // which no record holds: its receiver's parent is found through the record of the worker that
  // sent it, which lists the ids it sent.
  const sentBy = new Map<string, Span>();
  for (const span of spans.values())
    for (const call of span.calls) {
      const sent = call['sentSpanIds'];
      if (Array.isArray(sent))
        for (const id of sent as unknown[]) if (typeof id === 'string') sentBy.set(id, span);
    }

  const roots: Span[] = [];
  for (const span of spans.values()) {
    const parent =
      span.parent === undefined ? undefined : (spans.get(span.parent) ?? sentBy.get(span.parent));
    if (parent && parent !== span) parent.children.push(span);
    else roots.push(span);
  }

  // Spans no root reaches hang off a cycle of parents: the earliest of each such part is a root too.
  const reached = new Set<Span>();
  const reach = (from: Span) => {
    const todo = [from];
    reached.add(from);
    for (let s = todo.pop(); s; s = todo.pop())
      for (const child of s.children)
        if (!reached.has(child)) {
          reached.add(child);
          todo.push(child);
        }
  };
  for (const root of roots) reach(root);
  if (reached.size < spans.size) {
    const left = [...spans.values()].filter((s) => !reached.has(s)).sort(byTime);
    for (const span of left)
      if (!reached.has(span)) {
        roots.push(span);
        reach(span);
      }
  }

  const out: TreeLine[] = [];
  const visited = new Set<Span>();
  // Depth first, with a stack of the entries still to print, the next one on top.
  const stack: Array<{ entry: Entry; depth: number }> = [];
  const push = (entries: Entry[], depth: number) => {
    entries.sort(byTime);
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ entry: entries[i]!, depth });
  };
  push([...loose, ...roots.map((span) => ({ span, at: span.at, index: span.index }))], 0);
  for (let top = stack.pop(); top; top = stack.pop()) {
    const { entry, depth } = top;
    if ('record' in entry) {
      out.push({ record: entry.record, depth: Math.min(depth, maxDepth) });
      continue;
    }
    const span = entry.span;
    // A root that ends a cycle is also its last span's child: printed once, as the root.
    if (visited.has(span)) continue;
    visited.add(span);
    let inner = depth;
    for (const call of span.calls) out.push({ record: call, depth: Math.min(inner++, maxDepth) });
    const under: Entry[] = [...span.body];
    for (const child of span.children)
      if (!visited.has(child)) under.push({ span: child, at: child.at, index: child.index });
    push(under, inner);
  }
  return out;
}
