import type { ClusterClient } from '@svc/core';
import { MetricsCollector, type Sample } from './collect.js';
import {
  ENTRYPOINT_COLUMNS,
  INSTANCE_COLUMNS,
  headerLine,
  rowLine,
  sortRows,
  type Column,
  type SortState,
  type ViewName,
} from './table.js';

export interface TopOptions {
  client: ClusterClient;
  /** services shown; empty: every service */
  services?: readonly string[];
  /** refresh period, ms (default 1000) */
  interval?: number;
  /** a name for the header line (the cluster) */
  title?: string;
}

const FOOTER = ' Tab: instances/entrypoints   ←/→ or 1-9: sort column   r: reverse order   q: quit';

/**
 * `svc top`: a full-screen dashboard refreshed every `interval` from
 * `svc.get_metrics()` on every instance. Resolves when the user quits
 * (`q`, Esc or Ctrl-C), after the terminal is restored.
 */
export async function runTop(options: TopOptions): Promise<void> {
  // blessed is CommonJS whose exports are assigned at run time: Node exposes them on `default` only.
  const loaded = await import('blessed');
  const blessed = (loaded as { default?: typeof loaded }).default ?? loaded;
  const collector = new MetricsCollector(options.client, {
    ...(options.services ? { services: options.services } : {}),
  });
  const screen = blessed.screen({ smartCSR: true, title: 'svc top', fullUnicode: true });
  const header = blessed.box({ parent: screen, top: 0, left: 0, height: 1, width: '100%' });
  const body = blessed.box({
    parent: screen,
    top: 2,
    left: 0,
    width: '100%',
    height: '100%-3',
    tags: true,
  });
  const footer = blessed.box({
    parent: screen,
    bottom: 0,
    left: 0,
    height: 1,
    width: '100%',
    content: FOOTER,
    style: { fg: 'black', bg: 'white' },
  });
  void footer;

  let view: ViewName = 'instances';
  const sorts: Record<ViewName, SortState> = {
    instances: { column: 0, descending: false },
    entrypoints: { column: 3, descending: true },
  };
  let last: Sample | undefined;
  let error: string | undefined;

  const columnsOf = (v: ViewName): readonly Column<never>[] =>
    v === 'instances' ? INSTANCE_COLUMNS : ENTRYPOINT_COLUMNS;

  const draw = () => {
    const columns = columnsOf(view);
    const rows = (view === 'instances' ? last?.instances : last?.entrypoints) ?? [];
    const sorted = sortRows(rows as never[], columns, sorts[view]);
    const when = last ? new Date(last.time).toTimeString().slice(0, 8) : '…';
    header.setContent(
      ` svc top — ${options.title ?? 'cluster'} — ${last?.instances.length ?? 0} instances, ${
        last?.entrypoints.length ?? 0
      } entrypoints — ${view} view — ${when}`,
    );
    const lines = [
      `{inverse}${blessed.escape(headerLine(columns, sorts[view]).padEnd(Number(screen.width)))}{/inverse}`,
      ...sorted.map((r) => blessed.escape(rowLine(columns, r))),
    ];
    for (const u of last?.unreachable ?? [])
      lines.push(
        `{yellow-fg}${blessed.escape(`${u.service}/${u.instance.slice(0, 8)} did not answer: ${u.error}`)}{/yellow-fg}`,
      );
    if (error) lines.push(`{red-fg}${blessed.escape(error)}{/red-fg}`);
    body.setContent(lines.join('\n'));
    screen.render();
  };

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const refresh = async () => {
    try {
      last = await collector.sample();
      error = undefined;
    } catch (err) {
      error = `reading the registry failed: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (stopped) return;
    draw();
    timer = setTimeout(() => void refresh(), options.interval ?? 1000);
  };

  const sortBy = (column: number) => {
    const s = sorts[view];
    const count = columnsOf(view).length;
    if (column < 0 || column >= count) return;
    if (s.column === column) s.descending = !s.descending;
    else sorts[view] = { column, descending: column > 1 };
    draw();
  };

  await new Promise<void>((resolve) => {
    const quit = () => {
      stopped = true;
      if (timer) clearTimeout(timer);
      screen.destroy();
      resolve();
    };
    screen.key(['q', 'C-c', 'escape'], quit);
    screen.key(['tab'], () => {
      view = view === 'instances' ? 'entrypoints' : 'instances';
      draw();
    });
    screen.key(['right'], () => {
      const s = sorts[view];
      sortBy((s.column + 1) % columnsOf(view).length);
    });
    screen.key(['left'], () => {
      const s = sorts[view];
      const n = columnsOf(view).length;
      sortBy((s.column + n - 1) % n);
    });
    screen.key(['r'], () => {
      sorts[view].descending = !sorts[view].descending;
      draw();
    });
    screen.key(['1', '2', '3', '4', '5', '6', '7', '8', '9'], (ch: string) =>
      sortBy(Number(ch) - 1),
    );
    screen.on('resize', draw);
    draw();
    void refresh();
  });
}
