import { DEFAULT_LIMITS } from '../limits.js';
import { currentContext } from '../context.js';
import { CALL_RECORD, levelRank, type LogLevel, type LogRecord, type Logger } from './logger.js';
import { formatPretty } from './pretty.js';
import {
  fieldsJson,
  jsonString,
  type CallRecordIds,
  type CallRecordTemplate,
} from './call-record.js';
import { LineWriter, type LineWriterOptions } from './writer.js';
import { safeJson } from './safe-json.js';

export { safeJson };

export * from './logger.js';
export { callRecordTemplate, type CallRecordIds, type CallRecordTemplate } from './call-record.js';
export type { LineWriterOptions } from './writer.js';
export { formatPretty, colorFor } from './pretty.js';

/** Where records go: the terminal, the ring of recent records, the log stream. */
export interface LogSink {
  /**
   * `line` is the record as one line of JSON (without its newline), made
   * once by the logger for every sink that writes JSON; a sink given none
   * makes its own.
   */
  write(record: LogRecord, line?: string): void;
}

/**
 * The logger of an instance: builds one record per call with the instance's
 * fields and the current worker's trace and span ids, and hands it to every sink.
 */
export class RecordLogger implements Logger {
  readonly #sinks: LogSink[];
  readonly #fields: Record<string, unknown>;
  readonly #minRank: number;
  /** `#fields` as JSON members (`,"instance":"…"`), for {@link callOk}; undefined when they cannot be */
  readonly #fieldsJson: string | undefined;
  /** whether `#fields` name the service (a container's logger), which a record then keeps */
  readonly #ownService: boolean;

  constructor(sinks: LogSink[], fields: Record<string, unknown> = {}, level: LogLevel = 'info') {
    this.#sinks = sinks;
    this.#fields = fields;
    this.#minRank = levelRank(level);
    this.#fieldsJson = fieldsJson(fields);
    this.#ownService = Object.hasOwn(fields, 'service');
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#log('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#log('error', msg, fields);
  }

  enabled(level: LogLevel): boolean {
    return levelRank(level) >= this.#minRank;
  }

  child(fields: Record<string, unknown>): Logger {
    return new RecordLogger(this.#sinks, { ...this.#fields, ...fields }, LEVELS[this.#minRank]);
  }

  /**
   * The record of a worker that succeeded, the one record of almost every
   * call: the same record as `info(template.msg, { kind, entrypoint,
   * duration_ms, parentSpanId })` logged in `worker`'s context, with its
   * JSON line made from the parts that never change for an entrypoint
   * rather than by serialising the record. `JSON.stringify` of it and the
   * object spreads were about 1 µs of the 15 µs of CPU a call costs a
   * server at 100 calls in flight.
   */
  callOk(template: CallRecordTemplate, worker: CallRecordIds, durationMs: number): void {
    if (this.#minRank > INFO) return;
    const { traceId, spanId, parentSpanId, service } = worker;
    if (this.#fieldsJson === undefined) {
      const fields: Record<string, unknown> = {
        kind: template.kind,
        entrypoint: template.entrypoint,
        duration_ms: durationMs,
      };
      if (parentSpanId !== undefined) fields['parentSpanId'] = parentSpanId;
      (fields as { [CALL_RECORD]?: true })[CALL_RECORD] = true;
      this.#log('info', template.msg, fields);
      return;
    }
    const time = Date.now();
    const record: LogRecord = {
      time,
      level: 'info',
      msg: template.msg,
      ...this.#fields,
      traceId,
      spanId,
    };
    let line = `{"time":${time},"level":"info",${template.msgJson}${this.#fieldsJson},"traceId":${jsonString(traceId)},"spanId":${jsonString(spanId)}`;
    // As in info(): the logger's own service, where it names one, else the worker's.
    if (!this.#ownService) {
      record.service = service;
      line += `,"service":${jsonString(service)}`;
    }
    record['kind'] = template.kind;
    record['entrypoint'] = template.entrypoint;
    record['duration_ms'] = durationMs;
    line += `${template.tailJson},"duration_ms":${Number.isFinite(durationMs) ? durationMs : 'null'}`;
    if (parentSpanId !== undefined) {
      record['parentSpanId'] = parentSpanId;
      line += `,"parentSpanId":${jsonString(parentSpanId)}`;
    }
    line += '}';
    (record as { [CALL_RECORD]?: true })[CALL_RECORD] = true;
    for (const sink of this.#sinks) {
      try {
        sink.write(record, line);
      } catch {
        // A failing sink (closed pipe) must never break the code that logs.
      }
    }
  }

  #log(level: LogLevel, msg: string, fields: Record<string, unknown> | undefined): void {
    if (levelRank(level) < this.#minRank) return;
    const ctx = currentContext();
    const record: LogRecord = { time: Date.now(), level, msg: String(msg), ...this.#fields };
    if (ctx) {
      record.traceId = ctx.traceId;
      record.spanId = ctx.spanId;
      record.service ??= ctx.service;
    }
    if (fields) Object.assign(record, fields);
    // Serialised once for the ring, the JSON terminal and the log stream alike.
    const line = safeJson(record);
    for (const sink of this.#sinks) {
      try {
        sink.write(record, line);
      } catch {
        // A failing sink (closed pipe) must never break the code that logs.
      }
    }
  }
}

const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];
const INFO = levelRank('info');

/**
 * Writes records to a stream: pretty (coloured on a terminal) or one JSON
 * object a line, in batches (see {@link LineWriter}): a record waits at
 * most `flushMs` (10 ms), a warning or an error is written at once with
 * everything before it, and whatever is left is written when the process
 * exits.
 */
export class StreamSink implements LogSink {
  readonly #writer: LineWriter;
  readonly #format: 'pretty' | 'json';
  readonly #color: boolean;
  readonly #calls: boolean;

  /** `calls: false` leaves out the records of workers that succeeded ({@link CALL_RECORD}). */
  constructor(
    stream: NodeJS.WritableStream,
    options: { format: 'pretty' | 'json'; color: boolean; calls?: boolean } & LineWriterOptions,
  ) {
    this.#writer = new LineWriter(stream, options);
    this.#format = options.format;
    this.#color = options.color;
    this.#calls = options.calls ?? true;
  }

  write(record: LogRecord, json?: string): void {
    if (!this.#calls && (record as { [CALL_RECORD]?: true })[CALL_RECORD] === true) return;
    const line =
      this.#format === 'json' ? (json ?? safeJson(record)) : formatPretty(record, this.#color);
    this.#writer.write(`${line}\n`, record.level === 'warn' || record.level === 'error');
  }

  /** Writes the records still buffered now (a full pipe keeps the rest for later). */
  flush(): void {
    this.#writer.flush();
  }

  /** Lines the destination did not take (too slow, or gone). */
  get dropped(): number {
    return this.#writer.dropped;
  }
}

/**
 * Keeps the most recent records, for `svc tail --trace` after the fact:
 * at most `capacity` records and `maxBytes` bytes (of JSON, counted in
 * characters). A record over `recordBytes` is kept cut down, its long
 * fields ending in a `…[N more characters]` marker and `truncated: true`
 * added; never dropped whole. Counted in records only, 100 greetings with
 * 4 MiB names held 420 MB, and `svc.recent_logs` no longer fitted a frame.
 *
 * Records are held as their JSON lines, parsed again when asked for: one
 * flat string a record instead of an object and the strings it points at
 * (its message, trace and span ids, entrypoint). Every call's record
 * outlives the young generation, so what it holds is what the garbage
 * collector copies and marks: as objects, the ring cost the end-to-end
 * RPC bench about 14 µs of CPU a call; as lines, next to nothing.
 */
export class RingSink implements LogSink {
  readonly #capacity: number;
  readonly #maxBytes: number;
  readonly #recordBytes: number;
  #lines: string[] = [];
  /**
   * The records of `#lines` already parsed, by the same index: parsed once
   * when first asked for, so that many `svc.recent_logs` in a row share
   * them (400 at once, each parsing the whole ring again, took a peer that
   * did not read its replies from 60 to 180 MB).
   */
  #parsed: (LogRecord | undefined)[] = [];
  /** index of the oldest line kept (those before it are gone, compacted from time to time) */
  #start = 0;
  #bytes = 0;

  constructor(
    capacity = 2000,
    maxBytes = DEFAULT_LIMITS.logRingBytes,
    recordBytes = DEFAULT_LIMITS.logRecordBytes,
  ) {
    this.#capacity = capacity;
    this.#maxBytes = maxBytes;
    this.#recordBytes = Math.min(recordBytes, maxBytes);
  }

  /** Bytes of records held now (the length of their JSON). */
  get bytes(): number {
    return this.#bytes;
  }

  write(record: LogRecord, json?: string): void {
    let line = json ?? safeJson(record);
    if (line.length > this.#recordBytes) line = safeJson(truncateRecord(record, this.#recordBytes));
    const lines = this.#lines;
    lines.push(line);
    // Kept as long as the lines: a hole here costs nothing until it is asked for.
    if (this.#parsed.length > 0) this.#parsed.length = lines.length;
    this.#bytes += line.length;
    while (
      lines.length - this.#start > this.#capacity ||
      (this.#bytes > this.#maxBytes && lines.length - this.#start > 1)
    ) {
      this.#bytes -= lines[this.#start]!.length;
      lines[this.#start] = '';
      if (this.#parsed.length > 0) this.#parsed[this.#start] = undefined;
      this.#start++;
    }
    if (this.#start > 1024 && this.#start * 2 > lines.length) {
      this.#lines = lines.slice(this.#start);
      this.#parsed = this.#parsed.slice(this.#start);
      this.#start = 0;
    }
  }

  /** Records in time order, optionally only those of one trace. */
  recent(filter: { traceId?: string; limit?: number } = {}): LogRecord[] {
    const { traceId, limit } = filter;
    const lines = this.#lines;
    if (this.#parsed.length < lines.length) this.#parsed.length = lines.length;
    const records: LogRecord[] = [];
    for (let i = this.#start; i < lines.length; i++) {
      // A line that does not hold the id cannot be of the trace: most are left unparsed.
      if (traceId && !lines[i]!.includes(traceId)) continue;
      const record = (this.#parsed[i] ??= JSON.parse(lines[i]!) as LogRecord);
      if (!traceId || record.traceId === traceId) records.push(record);
    }
    return limit ? records.slice(-limit) : records;
  }
}

/** A record's size, close to its JSON length without making the JSON (strings by length). */
function recordSize(record: LogRecord): number {
  let size = 2;
  for (const key in record) {
    const value = (record as Record<string, unknown>)[key];
    size += key.length + 4 + valueSize(value);
  }
  return size;
}

function valueSize(value: unknown): number {
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'number' || typeof value === 'boolean' || value == null) return 8;
  return safeJson(value).length;
}

/** A copy of a record whose longest fields are cut (with a marker) until it fits `max`. */
function truncateRecord(record: LogRecord, max: number): LogRecord {
  const out: Record<string, unknown> = { ...record, truncated: true };
  const fields = Object.keys(out)
    .filter((k) => k !== 'time' && k !== 'level')
    .map((k) => ({ k, size: valueSize(out[k]) }))
    .sort((a, b) => b.size - a.size);
  let total = recordSize(out as unknown as LogRecord);
  // Each field gets at least a short head, so that what it was stays recognisable.
  const head = Math.max(32, Math.floor(max / (2 * Math.max(1, fields.length))));
  for (const { k, size } of fields) {
    if (total <= max) break;
    if (size <= head + 32) continue;
    const value = out[k];
    const text = typeof value === 'string' ? value : safeJson(value);
    const keep = Math.max(head, text.length - (total - max) - 40);
    if (keep >= text.length) continue;
    const cut = `${text.slice(0, keep)}…[${text.length - keep} more characters]`;
    total += cut.length + 2 - size;
    out[k] = cut;
  }
  return out as unknown as LogRecord;
}

/** Collects records in memory (for tests and the test kit). */
export class MemorySink implements LogSink {
  readonly records: LogRecord[] = [];
  write(record: LogRecord): void {
    this.records.push(record);
  }
}

/**
 * Output format from the environment: `SVC_LOG_FORMAT` (pretty|json), else
 * pretty on a terminal. `calls` says whether the records of workers that
 * succeeded are printed (`log.calls: output`); by default they are not.
 */
export function terminalSink(
  stream: NodeJS.WriteStream = process.stderr,
  { calls = false }: { calls?: boolean } = {},
): StreamSink {
  const env = process.env['SVC_LOG_FORMAT'];
  const tty = Boolean(stream.isTTY);
  const format = env === 'json' || env === 'pretty' ? env : tty ? 'pretty' : 'json';
  const colorEnv = process.env['SVC_LOG_COLOR'];
  const color = colorEnv === undefined ? tty && !process.env['NO_COLOR'] : colorEnv === '1';
  return new StreamSink(stream, { format, color, calls });
}
