import type { LogLevel, LogRecord, Logger } from '../log/logger.js';

/** A Logger that keeps its records in memory, for tests that assert on what was logged. */
export class CaptureLogger implements Logger {
  readonly records: LogRecord[];
  readonly #fields: Record<string, unknown>;

  constructor(records: LogRecord[] = [], fields: Record<string, unknown> = {}) {
    this.records = records;
    this.#fields = fields;
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.#add('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.#add('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.#add('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.#add('error', msg, fields);
  }
  child(fields: Record<string, unknown>): Logger {
    return new CaptureLogger(this.records, { ...this.#fields, ...fields });
  }

  /** The records at `level` or whose message contains `text`. */
  find(level: LogLevel, text = ''): LogRecord[] {
    return this.records.filter((r) => r.level === level && r.msg.includes(text));
  }

  #add(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    this.records.push({ ...this.#fields, ...fields, time: Date.now(), level, msg });
  }
}
