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

/** One human line: time, service/instance, level, trace id, message, extra fields. */
export function formatPretty(record: LogRecord, color: boolean): string {
  const c = (code: string, s: string) => (color ? `${code}${s}${RESET}` : s);
  const who = [
    record.service,
    typeof record.instance === 'string' ? record.instance.slice(0, 8) : undefined,
  ]
    .filter(Boolean)
    .join('/');
  const level = record.level.toUpperCase().padEnd(5);
  const extra = Object.entries(record)
    .filter(([k]) => !STANDARD.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return [
    c(DIM, time(record.time)),
    who ? c(colorFor(record.service ?? who), who) : undefined,
    c(LEVEL_COLORS[record.level] ?? '', level),
    record.traceId ? c(DIM, `[${record.traceId.slice(0, 10)}]`) : undefined,
    record.msg,
    extra ? c(DIM, extra) : undefined,
  ]
    .filter((s) => s !== undefined)
    .join(' ');
}
