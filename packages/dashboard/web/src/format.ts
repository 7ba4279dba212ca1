export function bytes(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(1)} GiB`;
  if (n >= 1024 ** 2) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} B`;
}

export function uptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

export function ms(n: number): string {
  if (n >= 1000) return `${(n / 1000).toFixed(2)} s`;
  if (n >= 10) return `${n.toFixed(0)} ms`;
  return `${n.toFixed(2)} ms`;
}

export function rate(n: number | undefined): string {
  if (n === undefined) return '–';
  return n >= 100 ? n.toFixed(0) : n.toFixed(1);
}

export function clock(time: number): string {
  const d = new Date(time);
  const pad = (v: number, w = 2) => String(v).padStart(w, '0');
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

export function short(id: string | undefined, n = 8): string {
  return id === undefined ? '-' : id.slice(0, n);
}

/** Fields of a record worth showing after its message. */
export function extraFields(record: Record<string, unknown>): string {
  const skip = new Set([
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
  return Object.entries(record)
    .filter(([k]) => !skip.has(k))
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
