import { MemorySink, RecordLogger } from '../log/index.js';
import type { LogLevel, LogRecord } from '../log/logger.js';

/**
 * A logger that keeps its records in memory (every level), for tests that
 * assert on what was logged: the instance logger's own record building,
 * with a memory sink. Children share the parent's records.
 */
export class CaptureLogger extends RecordLogger {
  readonly records: LogRecord[];

  constructor(fields: Record<string, unknown> = {}) {
    const sink = new MemorySink();
    super([sink], fields, 'debug');
    this.records = sink.records;
  }

  /** The records at `level` whose message contains `text`. */
  find(level: LogLevel, text = ''): LogRecord[] {
    return this.records.filter((r) => r.level === level && r.msg.includes(text));
  }
}
