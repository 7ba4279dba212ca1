import { type LogRecord } from '@svc/core';
import { colorFor, safeJson } from '@svc/core/internal';

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const BOLD = '\x1b[1m';
const LEVEL_COLORS: Record<string, string> = {
  debug: '\x1b[90m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};

/** Characters of a trace id tail prints; `--trace` accepts that prefix. */
export const TRACE_CHARS = 12;

// Fields the line already shows (or that only repeat the message).
const SHOWN = new Set([
  'time',
  'level',
  'msg',
  'service',
  'instance',
  'traceId',
  'spanId',
  'parentSpanId',
  'sentSpanIds',
  'kind',
  'entrypoint',
  'duration_ms',
  'method',
  'path',
  'status',
  'error_message',
  'stack',
]);

export interface RenderOptions {
  /** ANSI colours (a terminal) or none (a pipe) */
  color: boolean;
  /** width the service/instance column is padded to */
  whoWidth?: number;
  /** levels the message is indented (a span tree), two spaces each */
  indent?: number;
}

function clock(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

function duration(ms: number): string {
  return ms >= 1000
    ? `${(ms / 1000).toFixed(2)} s`
    : `${ms < 10 ? ms.toFixed(2) : ms.toFixed(1)} ms`;
}

/**
 * One line for a record: time, service/instance, level, trace id,
 * message (indented `indent` levels), duration when the record carries one, other fields as
 * `key=value`. Control characters in remote text are escaped so a record
 * cannot drive the terminal.
 */
export function renderRecord(record: LogRecord, options: RenderOptions): string {
  const c = (code: string, s: string) => (options.color ? `${code}${s}${RESET}` : s);
  const instance = typeof record.instance === 'string' ? record.instance.slice(0, 8) : '-';
  const service = record.service ?? '-';
  const who = `${clean(service)}/${clean(instance)}`.padEnd(options.whoWidth ?? 0);
  const level = record.level.toUpperCase().padEnd(5);
  const trace = (record.traceId ? clean(record.traceId.slice(0, TRACE_CHARS)) : '-').padEnd(
    TRACE_CHARS,
  );
  const dur = record['duration_ms'];
  const extra = Object.entries(record)
    .filter(([k]) => !SHOWN.has(k))
    .map(([k, v]) => `${clean(k)}=${clean(typeof v === 'string' ? v : safeJson(v))}`)
    .join(' ');
  return [
    c(DIM, clock(record.time)),
    c(colorFor(service), who),
    c(LEVEL_COLORS[record.level] ?? '', level),
    c(DIM, trace),
    '  '.repeat(options.indent ?? 0) +
      (record.level === 'error' ? c(BOLD, clean(record.msg)) : clean(record.msg)),
    typeof dur === 'number' ? c(DIM, `(${duration(dur)})`) : undefined,
    extra ? c(DIM, extra) : undefined,
  ]
    .filter((s) => s !== undefined)
    .join('  ');
}

/** Escapes control characters (ESC, newlines) that would otherwise reach the terminal. */
export function clean(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) =>
    ch === '\n'
      ? '\\n'
      : ch === '\t'
        ? ' '
        : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
