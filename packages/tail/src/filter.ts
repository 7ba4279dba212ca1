import { UsageError, type LogLevel, type LogRecord } from '@svc/core';
import { isLogLevel, levelRank } from '@svc/core/internal';

export interface FilterOptions {
  /** lowest level shown */
  level?: LogLevel;
  /** text (case-insensitive) the message or a field value must contain */
  grep?: string;
  /** a trace id, or its first characters (at least 6) as tail prints them */
  trace?: string;
}

/** A predicate over records from `--level`, `--grep` and `--trace`. */
export type RecordFilter = (record: LogRecord) => boolean;

/** Checks the options a user typed and builds the filter; a bad one is a {@link UsageError}. */
export function makeFilter(options: FilterOptions): RecordFilter {
  const { level, grep, trace } = options;
  if (level !== undefined && !isLogLevel(level))
    throw new UsageError(
      `--level must be one of debug, info, warn, error (got "${String(level)}")`,
    );
  if (trace !== undefined && !/^[0-9a-zA-Z_-]{6,128}$/.test(trace))
    throw new UsageError(
      `--trace takes a trace id (or its first 6 or more characters), got "${trace}"`,
    );
  const minRank = level === undefined ? 0 : levelRank(level);
  const needle = grep?.toLowerCase();
  return (record) => {
    if (levelRank(record.level) < minRank) return false;
    if (trace !== undefined && !(record.traceId ?? '').startsWith(trace)) return false;
    if (needle !== undefined && needle !== '' && !searchable(record).includes(needle)) return false;
    return true;
  };
}

/** The text `--grep` looks in: the message and every field but the time. */
function searchable(record: LogRecord): string {
  const parts: string[] = [record.msg];
  for (const [k, v] of Object.entries(record)) {
    if (k === 'time' || k === 'msg' || k === 'level') continue;
    parts.push(typeof v === 'string' ? v : safeString(v));
  }
  return parts.join('\n').toLowerCase();
}

function safeString(v: unknown): string {
  try {
    return JSON.stringify(v) ?? '';
  } catch {
    return '';
  }
}
