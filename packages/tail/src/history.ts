import type { ClusterClient, InstanceRecord, LogRecord } from '@svc/core';
import { queryLogStream } from './query.js';
import { toRecord } from './records.js';

export interface HistoryOptions {
  /** services to ask; empty: every service */
  services: readonly string[];
  /** a trace id or its first characters */
  trace: string;
  /** per-instance call timeout, ms (default 3000) */
  timeout?: number;
}

export interface History {
  records: LogRecord[];
  /** instances that did not answer, with why */
  failures: Array<{ instance: InstanceRecord; error: string }>;
}

/** Length of the trace ids svc makes; a shorter `--trace` is a prefix looked up among recent records. */
const FULL_TRACE = 32;

/**
 * A finished trace after the fact: asks every instance for the records of
 * the trace its ring still holds (`svc.recent_logs`) and merges them in
 * time order.
 */
export async function traceHistory(
  client: ClusterClient,
  options: HistoryOptions,
): Promise<History> {
  const wanted = new Set(options.services);
  const instances = new Map<string, InstanceRecord>();
  const services = new Map<string, Set<string>>();
  for (const r of await client.backends.registry.list()) {
    if (r.service.startsWith('svc-cli-')) continue;
    if (wanted.size > 0 && !wanted.has(r.service)) continue;
    if (typeof r.endpoints['rpc'] !== 'string' && typeof r.endpoints['logs'] !== 'string') continue;
    services.set(r.id, (services.get(r.id) ?? new Set()).add(r.service));
    if (!instances.has(r.id)) instances.set(r.id, r);
  }
  const exact = options.trace.length >= FULL_TRACE;
  const failures: History['failures'] = [];
  const batches = await Promise.all(
    [...instances.values()].map(async (r) => {
      try {
        const params = exact ? { traceId: options.trace } : {};
        const timeout = options.timeout ?? 3000;
        const rpc = r.endpoints['rpc'];
        // Without an RPC address (AMQP RPC), the instance's log stream answers the same question.
        const got =
          rpc !== undefined
            ? await client.call(r.service, 'svc.recent_logs', params, { address: rpc, timeout })
            : await queryLogStream(
                client.auth,
                r.endpoints['logs']!,
                'recent_logs',
                params,
                timeout,
              );
        if (!Array.isArray(got)) return [];
        const out: LogRecord[] = [];
        for (const item of got) {
          const record = toRecord(item);
          if (!record || !(record.traceId ?? '').startsWith(options.trace)) continue;
          record.instance ??= r.id;
          // Records made outside a worker (HTTP access lines) name no service: the instance's own, when it runs one.
          const own = [...(services.get(r.id) ?? [])];
          if (record.service === undefined && own.length === 1) record.service = own[0];
          out.push(record);
        }
        return out;
      } catch (err) {
        failures.push({ instance: r, error: err instanceof Error ? err.message : String(err) });
        return [];
      }
    }),
  );
  // Stable sort: records of one instance in the same millisecond keep their order.
  const records = batches.flat().sort((a, b) => a.time - b.time);
  return { records, failures };
}

/** A key telling one record from another, to print a record seen both in history and live once. */
export function recordKey(record: LogRecord): string {
  return `${record.instance ?? ''}|${record.time}|${record.level}|${record.msg}`;
}
