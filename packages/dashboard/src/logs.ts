import type { ClusterAuth, InstanceRecord, LogRecord } from '@svc/core';
import { safeJson } from '@svc/core/internal';
import {
  LogFollower,
  makeFilter,
  recordKey,
  type FilterOptions,
  type RecordFilter,
} from '@svc/tail';
import type { SseStream } from './sse.js';
import { TraceIndex } from './traces.js';

export interface LogHubOptions {
  /** the handshake that proves to each instance's log stream that the dashboard belongs to the cluster */
  auth: ClusterAuth;
  /** the registry's latest list (the cluster view reads it; the hub does not read it again) */
  list: () => Promise<InstanceRecord[]>;
  /** how often the list is looked at for instances coming and going, ms */
  pollMs: number;
  /** records kept for new subscribers and trace look-ups */
  maxRecords?: number;
  /** bytes of JSON kept, over every record */
  maxBytes?: number;
  /** a record's JSON longer than this is cut to its standard fields */
  maxRecordBytes?: number;
  /** most subscribers at once */
  maxSubscribers?: number;
}

/** What one browser follows in the logs view. */
export interface LogQuery extends FilterOptions {
  /** services followed; empty: all */
  services: readonly string[];
}

interface Kept {
  record: LogRecord;
  json: string;
}

interface Subscriber {
  stream: SseStream;
  services: ReadonlySet<string>;
  filter: RecordFilter;
}

/** Records sent to a new subscriber before the live ones. */
const BACKFILL = 500;

/**
 * The cluster's log records, followed once for every browser: one
 * connection to each instance's log stream (as `svc tail` makes them), a
 * bounded ring of the latest records (for a page that opens the logs view
 * and for traces), the index of recent traces, and the browsers that
 * follow the logs, each with its own filter.
 */
export class LogHub {
  readonly traces = new TraceIndex();
  readonly #follower: LogFollower;
  readonly #ring: Kept[] = [];
  readonly #subscribers = new Set<Subscriber>();
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #maxRecordBytes: number;
  readonly #maxSubscribers: number;
  #bytes = 0;
  /** records that arrived */
  received = 0;

  constructor(options: LogHubOptions) {
    this.#maxRecords = options.maxRecords ?? 5000;
    this.#maxBytes = options.maxBytes ?? 8 * 1024 * 1024;
    this.#maxRecordBytes = options.maxRecordBytes ?? 16 * 1024;
    this.#maxSubscribers = options.maxSubscribers ?? 16;
    this.#follower = new LogFollower({
      auth: options.auth,
      registry: { list: options.list },
      services: [],
      pollMs: options.pollMs,
      onRecord: (record) => this.add(record),
    });
  }

  start(): Promise<void> {
    return this.#follower.start();
  }

  /** Takes one record: into the ring, the trace index and every subscriber whose filter keeps it. */
  add(record: LogRecord): void {
    this.received++;
    const kept = this.#keep(record);
    this.#ring.push(kept);
    this.#bytes += kept.json.length;
    while (this.#ring.length > this.#maxRecords || this.#bytes > this.#maxBytes) {
      this.#bytes -= this.#ring.shift()!.json.length;
    }
    this.traces.add(kept.record);
    for (const sub of this.#subscribers) {
      if (wanted(sub, kept.record)) sub.stream.send('log', kept.json);
    }
  }

  /** The record as kept: whole, or, when its JSON is too long, its standard fields with the message cut. */
  #keep(record: LogRecord): Kept {
    const json = safeJson(record);
    if (json.length <= this.#maxRecordBytes) return { record, json };
    const { time, level, msg, service, instance, traceId } = record;
    const cut: LogRecord = {
      time,
      level,
      msg: `${msg.slice(0, 2000)}… (record of ${json.length} bytes cut)`,
      ...(service === undefined ? {} : { service }),
      ...(instance === undefined ? {} : { instance }),
      ...(traceId === undefined ? {} : { traceId }),
    };
    // An outcome's figures stay: the trace views are built from them.
    for (const key of ['kind', 'entrypoint', 'duration_ms', 'method', 'path', 'status'])
      if (typeof record[key] === 'string' || typeof record[key] === 'number')
        cut[key] = record[key];
    return { record: cut, json: safeJson(cut) };
  }

  /** Bytes of JSON the ring holds. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Records the ring holds, oldest first. */
  get size(): number {
    return this.#ring.length;
  }

  /** The ring's records of one trace (its full id). */
  recordsOf(traceId: string): LogRecord[] {
    return this.#ring.filter((k) => k.record.traceId === traceId).map((k) => k.record);
  }

  /**
   * Streams records to a browser: first the latest held ones its query
   * keeps (one `logs` event holding a JSON array), with those of `history`
   * (the instances' own records, for a trace) the ring does not hold, then
   * each new one (a `log` event). A bad query throws a `UsageError` and too
   * many subscribers return false, both before `open` is called.
   */
  subscribe(query: LogQuery, open: () => SseStream, history: readonly LogRecord[] = []): boolean {
    const filter = makeFilter(query);
    if (this.#subscribers.size >= this.#maxSubscribers) return false;
    const stream = open();
    const sub: Subscriber = { stream, services: new Set(query.services), filter };
    // Newest first, then oldest first once complete.
    const held: Kept[] = [];
    for (let i = this.#ring.length - 1; i >= 0 && held.length < BACKFILL; i--) {
      const kept = this.#ring[i]!;
      if (wanted(sub, kept.record)) held.push(kept);
    }
    held.reverse();
    if (history.length > 0) {
      // Records the ring never got (written before it followed their instance), once each, in
      // the order they were written.
      const seen = new Set(held.map((k) => recordKey(k.record)));
      for (const record of history) {
        const key = recordKey(record);
        if (seen.has(key) || !wanted(sub, record)) continue;
        seen.add(key);
        held.push(this.#keep(record));
      }
      held.sort((a, b) => a.record.time - b.record.time);
      if (held.length > BACKFILL) held.splice(0, held.length - BACKFILL);
    }
    stream.send('logs', `[${held.map((k) => k.json).join(',')}]`);
    this.#subscribers.add(sub);
    stream.onClose(() => this.#subscribers.delete(sub));
    return true;
  }

  get subscribers(): number {
    return this.#subscribers.size;
  }

  async close(): Promise<void> {
    await this.#follower.close();
    for (const sub of this.#subscribers) sub.stream.close();
    this.#subscribers.clear();
  }
}

function wanted(sub: Subscriber, record: LogRecord): boolean {
  if (sub.services.size > 0 && (record.service === undefined || !sub.services.has(record.service)))
    return false;
  return sub.filter(record);
}

/** The records of two sources, each once, in time order. */
export function mergeRecords(a: readonly LogRecord[], b: readonly LogRecord[]): LogRecord[] {
  const seen = new Set<string>();
  const out: LogRecord[] = [];
  for (const r of [...a, ...b]) {
    const key = recordKey(r);
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(r);
  }
  return out.sort((x, y) => x.time - y.time);
}
