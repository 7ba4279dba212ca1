import type { ClusterClient, LogRecord } from '@svc/core';
import { makeFilter, type FilterOptions } from './filter.js';
import { LogFollower } from './follow.js';
import { recordKey, traceHistory } from './history.js';
import { renderRecord } from './render.js';
import { spanTree } from './tree.js';
import { UsageError } from '@svc/core';
import { safeJson } from '@svc/core/internal';

export interface TailOptions extends FilterOptions {
  client: ClusterClient;
  /** services to follow; empty: every service */
  services: readonly string[];
  /** raw records, one JSON object a line */
  json?: boolean;
  /** ANSI colours */
  color?: boolean;
  /** keep following live records (default true); false with `trace`: print the history and return */
  follow?: boolean;
  /** registry read interval, ms */
  pollMs?: number;
  /** one output line (a record) */
  write(line: string): void;
  /** one notice for a human (joins, instances that did not answer) */
  notice(line: string): void;
  /** stops following */
  signal?: AbortSignal;
}

/**
 * `svc tail`: with a trace id, first the records of that trace that the
 * instances still hold, as a span tree (see {@link spanTree}; in time
 * order with `json`); then, unless `follow` is false, live records of
 * every instance of the services, filtered, as they come, until `signal`
 * aborts.
 */
export async function runTail(options: TailOptions): Promise<void> {
  const filter = makeFilter(options);
  const follow = options.follow ?? true;
  let whoWidth = 0;
  const print = (record: LogRecord, indent = 0) => {
    if (options.json) {
      options.write(safeJson(record));
      return;
    }
    whoWidth = Math.max(whoWidth, (record.service ?? '-').length + 9);
    options.write(renderRecord(record, { color: options.color ?? false, whoWidth, indent }));
  };

  // While the history is fetched, live records wait here, so none is lost or printed twice.
  let pending: LogRecord[] | undefined = options.trace !== undefined ? [] : undefined;
  const follower = follow
    ? new LogFollower({
        auth: options.client.auth,
        registry: options.client.backends.registry,
        services: options.services,
        ...(options.pollMs === undefined ? {} : { pollMs: options.pollMs }),
        onRecord: (record) => {
          if (!filter(record)) return;
          if (pending) pending.push(record);
          else print(record);
        },
        onJoin: (s) => {
          // Align the columns on the longest service name known so far.
          for (const name of s.services) whoWidth = Math.max(whoWidth, name.length + 9);
          options.notice(`following ${s.services.join(',')}/${s.instance.slice(0, 8)}`);
        },
      })
    : undefined;

  try {
    if (follower) {
      await follower.start();
      const running = new Set(follower.sources.flatMap((s) => s.services));
      for (const name of options.services)
        if (!running.has(name)) options.notice(`no instance of ${name} yet; waiting for one`);
    }
    if (options.trace !== undefined) {
      const history = await traceHistory(options.client, {
        services: options.services,
        trace: options.trace,
      });
      for (const f of history.failures)
        options.notice(
          `${f.instance.service}/${f.instance.id.slice(0, 8)} did not answer: ${f.error}`,
        );
      if (history.records.length === 0) {
        // A trace id that matches nothing says so: a typo, or records the rings no longer hold.
        const unanswered = history.failures.length;
        const why = `no running instance holds a record of trace "${options.trace}"${unanswered > 0 ? ` (${unanswered} did not answer)` : ''}`;
        if (!follower) throw new UsageError(why);
        options.notice(`${why}; waiting for new ones`);
      }
      const seen = new Set<string>();
      for (const record of history.records)
        whoWidth = Math.max(whoWidth, (record.service ?? '-').length + 9);
      const shown = history.records.filter(filter);
      for (const record of shown) seen.add(recordKey(record));
      // Raw records stay in time order; lines show which call was made by which.
      if (options.json) for (const record of shown) print(record);
      else for (const line of spanTree(shown)) print(line.record, line.depth);
      const waiting = pending ?? [];
      pending = undefined;
      for (const record of waiting) if (!seen.has(recordKey(record))) print(record);
    }
    if (!follower) return;
    await new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
  } finally {
    await follower?.close();
  }
}
