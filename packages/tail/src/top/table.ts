import type { EntrypointRow, InstanceRow, Sample } from './collect.js';

/** A column of a dashboard view. */
export interface Column<R> {
  /** header text */
  title: string;
  width: number;
  align: 'left' | 'right';
  /** the value sorted on */
  value(row: R): string | number | undefined;
  /** the text shown */
  text(row: R): string;
}

export type ViewName = 'instances' | 'entrypoints';

const fixed = (n: number | undefined, digits: number) =>
  n === undefined ? '-' : n.toFixed(digits);

/** `1h02m`, `3m05s`, `12s` */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  if (s < 86400)
    return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
  return `${Math.floor(s / 86400)}d${String(Math.floor((s % 86400) / 3600)).padStart(2, '0')}h`;
}

/** `48.2M`, `1.1G` */
export function formatBytes(bytes: number): string {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)}K`;
  if (bytes < 1024 * 1024 * 1024) return `${(bytes / 1024 / 1024).toFixed(1)}M`;
  return `${(bytes / 1024 / 1024 / 1024).toFixed(2)}G`;
}

/** A left-aligned text column. */
function text<R>(title: string, width: number, pick: (r: R) => string, show = pick): Column<R> {
  return { title, width, align: 'left', value: pick, text: show };
}

/** A right-aligned number column, shown with `digits` decimals (or by `show`). */
function num<R>(
  title: string,
  width: number,
  pick: (r: R) => number | undefined,
  show: number | ((r: R) => string) = 1,
): Column<R> {
  const render = typeof show === 'number' ? (r: R) => fixed(pick(r), show) : show;
  return { title, width, align: 'right', value: pick, text: render };
}

export const INSTANCE_COLUMNS: readonly Column<InstanceRow>[] = [
  text('SERVICE', 18, (r) => r.service),
  text(
    'INSTANCE',
    10,
    (r) => r.instance,
    (r) => r.instance.slice(0, 8),
  ),
  num('PID', 8, (r) => r.pid, 0),
  num(
    'UPTIME',
    8,
    (r) => r.uptime,
    (r) => formatUptime(r.uptime),
  ),
  num('CPU%', 7, (r) => r.cpu),
  num(
    'RSS',
    8,
    (r) => r.rss,
    (r) => formatBytes(r.rss),
  ),
  num('LAG ms', 8, (r) => r.loopLag),
  num('CALLS/s', 9, (r) => r.callsPerSec),
  num('ERR/s', 7, (r) => r.errorsPerSec),
  num('P50 ms', 8, (r) => r.p50),
  num('P99 ms', 8, (r) => r.p99),
];

export const ENTRYPOINT_COLUMNS: readonly Column<EntrypointRow>[] = [
  text('ENTRYPOINT', 30, (r) => r.name),
  text('KIND', 6, (r) => r.kind),
  num('INST', 5, (r) => r.instances, 0),
  num('CALLS/s', 9, (r) => r.callsPerSec),
  num('ERR/s', 7, (r) => r.errorsPerSec),
  num('CALLS', 9, (r) => r.calls, 0),
  num('ERRORS', 8, (r) => r.errors, 0),
  num('P50 ms', 8, (r) => r.p50),
  num('P99 ms', 8, (r) => r.p99),
];

export interface SortState {
  /** index of the sorted column */
  column: number;
  descending: boolean;
}

/** Rows ordered by one column (missing values last), ties by the first column. */
export function sortRows<R>(
  rows: readonly R[],
  columns: readonly Column<R>[],
  sort: SortState,
): R[] {
  const col = columns[sort.column] ?? columns[0]!;
  const first = columns[0]!;
  const cmp = (a: string | number | undefined, b: string | number | undefined): number => {
    if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
    if (typeof a === 'number' && typeof b === 'number') return a - b;
    return String(a).localeCompare(String(b));
  };
  return [...rows].sort((x, y) => {
    const a = col.value(x);
    const b = col.value(y);
    let c = cmp(a, b);
    if (a !== undefined && b !== undefined && sort.descending) c = -c;
    return c !== 0 ? c : cmp(first.value(x), first.value(y));
  });
}

function cell(text: string, width: number, align: 'left' | 'right'): string {
  const t = text.length > width ? `${text.slice(0, width - 1)}…` : text;
  return align === 'left' ? t.padEnd(width) : t.padStart(width);
}

/** The header line; the sorted column carries ▼ (descending) or ▲. */
export function headerLine<R>(columns: readonly Column<R>[], sort?: SortState): string {
  return columns
    .map((c, i) => {
      const mark = sort && sort.column === i ? (sort.descending ? '▼' : '▲') : '';
      return cell(
        c.align === 'right' ? `${mark}${c.title}` : `${c.title}${mark}`,
        c.width,
        c.align,
      );
    })
    .join(' ')
    .trimEnd();
}

export function rowLine<R>(columns: readonly Column<R>[], row: R): string {
  return columns
    .map((c) => cell(c.text(row), c.width, c.align))
    .join(' ')
    .trimEnd();
}

/** A view as plain text lines: header, then one line per row. */
export function renderTable<R>(
  columns: readonly Column<R>[],
  rows: readonly R[],
  sort?: SortState,
): string[] {
  const ordered = sort ? sortRows(rows, columns, sort) : rows;
  return [headerLine(columns, sort), ...ordered.map((r) => rowLine(columns, r))];
}

/** `svc top --once`: both views as plain text. */
export function renderOnce(sample: Sample): string {
  const lines = [
    ...renderTable(INSTANCE_COLUMNS, sample.instances, { column: 0, descending: false }),
    '',
    ...renderTable(ENTRYPOINT_COLUMNS, sample.entrypoints, { column: 0, descending: false }),
  ];
  for (const u of sample.unreachable)
    lines.push(`${u.service}/${u.instance.slice(0, 8)} did not answer: ${u.error}`);
  return `${lines.join('\n')}\n`;
}
