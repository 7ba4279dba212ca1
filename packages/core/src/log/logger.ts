export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

/** Where the records of workers that succeeded go: kept in the history only, or printed too. */
export type LogCalls = 'history' | 'output';

/**
 * Marks the record of a worker that succeeded (`rpc Greeting.greet ok`).
 * A symbol key: JSON (the output, the ring, the log stream) never shows it.
 */
export const CALL_RECORD: unique symbol = Symbol('svc.callRecord');

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

/** One structured log record, as written on a JSON line and published on the log stream. */
export interface LogRecord {
  /** epoch milliseconds */
  time: number;
  level: LogLevel;
  msg: string;
  service?: string;
  instance?: string;
  traceId?: string;
  /** the span (worker) that wrote it, 16 hex characters */
  spanId?: string;
  [field: string]: unknown;
}

/** The logging surface every part of svc (and `this.log` in a service) uses. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose records carry these fields too. */
  child(fields: Record<string, unknown>): Logger;
  /**
   * Whether records at `level` are kept; code on a hot path skips building
   * a record that would be dropped. A logger without it keeps every level.
   */
  enabled?(level: LogLevel): boolean;
}

export function levelRank(level: LogLevel): number {
  return LOG_LEVELS.indexOf(level);
}

export function isLogLevel(value: unknown): value is LogLevel {
  return typeof value === 'string' && (LOG_LEVELS as readonly string[]).includes(value);
}
