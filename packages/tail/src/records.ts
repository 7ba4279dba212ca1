import { type LogRecord } from '@svc/core';
import { isLogLevel, parseJsonSafe } from '@svc/core/internal';

/** Longest line accepted from a log stream; a longer one closes the connection. */
export const MAX_LINE_BYTES = 1024 * 1024;

/** A record as received, or `undefined` when the value is not a log record. */
export function toRecord(value: unknown): LogRecord | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Record<string, unknown>;
  if (typeof r['time'] !== 'number' || !isLogLevel(r['level']) || typeof r['msg'] !== 'string')
    return undefined;
  for (const key of ['service', 'instance', 'traceId'] as const) {
    if (r[key] !== undefined && typeof r[key] !== 'string') return undefined;
  }
  return r as LogRecord;
}

/**
 * Splits a byte stream into lines and decodes each as a log record. Bad
 * lines are counted and skipped; a line longer than the limit makes
 * `push` return false (the caller closes the connection).
 */
export class LineDecoder {
  #buffer = '';
  bad = 0;
  readonly #onRecord: (record: LogRecord) => void;
  readonly #maxLine: number;

  constructor(onRecord: (record: LogRecord) => void, maxLine = MAX_LINE_BYTES) {
    this.#onRecord = onRecord;
    this.#maxLine = maxLine;
  }

  push(chunk: string): boolean {
    this.#buffer += chunk;
    let nl: number;
    while ((nl = this.#buffer.indexOf('\n')) >= 0) {
      const line = this.#buffer.slice(0, nl);
      this.#buffer = this.#buffer.slice(nl + 1);
      if (line.trim() === '') continue;
      let record: LogRecord | undefined;
      try {
        record = toRecord(parseJsonSafe(line));
      } catch {
        record = undefined;
      }
      if (record) this.#onRecord(record);
      else this.bad++;
    }
    if (this.#buffer.length > this.#maxLine) {
      this.#buffer = '';
      this.bad++;
      return false;
    }
    return true;
  }
}
