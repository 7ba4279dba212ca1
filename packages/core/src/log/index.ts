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
export { RingSink } from './ring.js';

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
  /**
   * The record of a worker that succeeded (the one record of almost every
   * call), given as its JSON line; `record()` makes the record itself, for
   * a sink that needs more than the line. A sink without this method is
   * given `write(record, line)`. Most calls' records are only kept in the
   * ring, and making the object for nothing was a good part of their cost.
   */
  callLine?(line: string, record: () => LogRecord): void;
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
   * duration_ms, parentSpanId, sentSpanIds })` logged in `worker`'s context, with its
   * JSON line made from the parts that never change for an entrypoint
   * rather than by serialising the record. `JSON.stringify` of it and the
   * object spreads were about 1 µs of the 15 µs of CPU a call costs a
   * server at 100 calls in flight.
   */
  callOk(template: CallRecordTemplate, worker: CallRecordIds, durationMs: number): void {
    if (this.#minRank > INFO) return;
    const { traceId, spanId, parentSpanId, service, sentSpanIds } = worker;
    if (this.#fieldsJson === undefined) {
      const fields: Record<string, unknown> = {
        kind: template.kind,
        entrypoint: template.entrypoint,
        duration_ms: durationMs,
      };
      if (parentSpanId !== undefined) fields['parentSpanId'] = parentSpanId;
      if (sentSpanIds !== undefined) fields['sentSpanIds'] = [...sentSpanIds];
      (fields as { [CALL_RECORD]?: true })[CALL_RECORD] = true;
      this.#log('info', template.msg, fields);
      return;
    }
    const time = Date.now();
    let line = `{"time":${time},"level":"info",${template.msgJson}${this.#fieldsJson},"traceId":${jsonString(traceId)},"spanId":"${spanId}"`;
    // As in info(): the logger's own service, where it names one, else the worker's.
    if (!this.#ownService) line += `,"service":${jsonString(service)}`;
    line += `${template.tailJson},"duration_ms":${Number.isFinite(durationMs) ? durationMs : 'null'}`;
    if (parentSpanId !== undefined) line += `,"parentSpanId":"${parentSpanId}"`;
    // Span ids this process made (16 hex characters): nothing to escape. Copied now: the record
    // may be made later, and code the worker left running may still send more.
    const sent = sentSpanIds?.slice();
    if (sent !== undefined) line += `,"sentSpanIds":["${sent.join('","')}"]`;
    line += '}';
    let record: LogRecord | undefined;
    const made = () => (record ??= this.#callRecord(time, template, worker, durationMs, sent));
    for (const sink of this.#sinks) {
      try {
        if (sink.callLine) sink.callLine(line, made);
        else sink.write(made(), line);
      } catch {
        // A failing sink (closed pipe) must never break the code that logs.
      }
    }
  }

  /** The record {@link callOk}'s line says, for the sinks that want it as an object. */
  #callRecord(
    time: number,
    template: CallRecordTemplate,
    worker: CallRecordIds,
    durationMs: number,
    sent: string[] | undefined,
  ): LogRecord {
    const record: LogRecord = {
      time,
      level: 'info',
      msg: template.msg,
      ...this.#fields,
      traceId: worker.traceId,
      spanId: worker.spanId,
    };
    if (!this.#ownService) record.service = worker.service;
    record['kind'] = template.kind;
    record['entrypoint'] = template.entrypoint;
    record['duration_ms'] = durationMs;
    if (worker.parentSpanId !== undefined) record['parentSpanId'] = worker.parentSpanId;
    if (sent !== undefined) record['sentSpanIds'] = sent;
    (record as { [CALL_RECORD]?: true })[CALL_RECORD] = true;
    return record;
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

  callLine(line: string, record: () => LogRecord): void {
    if (!this.#calls) return;
    if (this.#format === 'json') this.#writer.write(`${line}\n`, false);
    else this.#writer.write(`${formatPretty(record(), this.#color)}\n`, false);
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
