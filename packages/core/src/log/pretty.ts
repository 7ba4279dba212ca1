import type { LogRecord } from './logger.js';

const RESET = '\x1b[0m';
const DIM = '\x1b[2m';
const LEVEL_COLORS: Record<string, string> = {
  debug: '\x1b[90m',
  info: '\x1b[32m',
  warn: '\x1b[33m',
  error: '\x1b[31m',
};
const SERVICE_COLORS = [
  '\x1b[36m',
  '\x1b[35m',
  '\x1b[34m',
  '\x1b[33m',
  '\x1b[32m',
  '\x1b[96m',
  '\x1b[95m',
];
const STANDARD = new Set([
  'time',
  'level',
  'msg',
  'service',
  'instance',
  'traceId',
  'spanId',
  'parentSpanId',
  'sentSpanIds',
]);

/** A colour that stays the same for a name across runs and tools. */
export function colorFor(name: string): string {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return SERVICE_COLORS[h % SERVICE_COLORS.length]!;
}

function time(ms: number): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}.${p(d.getMilliseconds(), 3)}`;
}

/**
 * Escapes control characters (ESC, newlines, C1) so that text from the
 * wire (a name in a URL, a peer's trace id) can neither forge a line nor
 * drive the terminal: a newline shows as `\n`, a tab as a space, the rest
 * as `\xNN` (as `svc tail` shows them).
 */
export function escapeControl(text: string): string {
  // eslint-disable-next-line no-control-regex -- the point is to find control characters
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (ch) =>
    ch === '\n'
      ? '\\n'
      : ch === '\t'
        ? ' '
        : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

function text(value: unknown): string {
  if (typeof value === 'string') return escapeControl(value);
  try {
    return escapeControl(JSON.stringify(value) ?? String(value));
  } catch {
    return escapeControl(String(value));
  }
}

/**
 * One human line: time, service/instance, level, trace id, message, extra
 * fields. Every part that can come from elsewhere is escaped, and a field
 * of an unexpected type is shown rather than losing the line (a numeric
 * trace id made every line of its call vanish).
 */
export function formatPretty(record: LogRecord, color: boolean): string {
  const c = (code: string, s: string) => (color ? `${code}${s}${RESET}` : s);
  const service = record.service === undefined ? undefined : text(record.service);
  const who = [
    service,
    typeof record.instance === 'string' ? text(record.instance.slice(0, 8)) : undefined,
  ]
    .filter(Boolean)
    .join('/');
  const levelName = String(record.level);
  const level = text(levelName.toUpperCase()).padEnd(5);
  const extra = Object.entries(record)
    .filter(([k]) => !STANDARD.has(k))
    .map(([k, v]) => `${text(k)}=${text(v)}`)
    .join(' ');
  const trace = record.traceId === undefined || record.traceId === '' ? undefined : record.traceId;
  return [
    c(DIM, time(record.time)),
    who ? c(colorFor(service ?? who), who) : undefined,
    c(LEVEL_COLORS[levelName] ?? '', level),
    trace === undefined ? undefined : c(DIM, `[${text(String(trace).slice(0, 10))}]`),
    text(record.msg),
    extra ? c(DIM, extra) : undefined,
  ]
    .filter((s) => s !== undefined)
    .join(' ');
}
