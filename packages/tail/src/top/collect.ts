import type { ClusterClient, InstanceRecord, MetricsSnapshot } from '@svc/core';
import { queryLogStream } from '../query.js';

/** One row of the instance view. */
export interface InstanceRow {
  /** services the instance runs, comma-separated */
  service: string;
  instance: string;
  pid: number;
  /** seconds */
  uptime: number;
  /** % of one core since the previous reading */
  cpu: number;
  /** bytes */
  rss: number;
  /** mean event-loop delay, ms */
  loopLag: number;
  /** calls of every entrypoint (RPC, events, HTTP, timers) per second; undefined on a first reading */
  callsPerSec: number | undefined;
  errorsPerSec: number | undefined;
  /** median latency over the instance's entrypoints (weighted by calls), ms */
  p50: number;
  /** worst entrypoint p99, ms */
  p99: number;
}

/** One row of the entrypoint view: an RPC method, event handler, HTTP route or timer over every instance. */
export interface EntrypointRow {
  /** `Greeting.greet` */
  name: string;
  kind: string;
  /** instances that report it */
  instances: number;
  callsPerSec: number | undefined;
  errorsPerSec: number | undefined;
  /** calls and errors since the instances started */
  calls: number;
  errors: number;
  p50: number;
  p99: number;
}

export interface Sample {
  time: number;
  instances: InstanceRow[];
  entrypoints: EntrypointRow[];
  /** instances that did not answer `svc.get_metrics` */
  unreachable: Array<{ service: string; instance: string; error: string }>;
}

interface Reading {
  snapshot: MetricsSnapshot;
  services: string[];
}

/**
 * Reads `svc.get_metrics()` from every live instance and turns two
 * consecutive readings into rates. Keep one collector for the life of a
 * dashboard; each `sample()` compares with the previous one.
 */
export class MetricsCollector {
  readonly #client: ClusterClient;
  readonly #services: Set<string>;
  readonly #timeout: number;
  #previous = new Map<string, Reading>();

  constructor(
    client: ClusterClient,
    options: { services?: readonly string[]; timeout?: number } = {},
  ) {
    this.#client = client;
    this.#services = new Set(options.services ?? []);
    this.#timeout = options.timeout ?? 800;
  }

  /**
   * Reads every instance once. `records`: the registry's list when the
   * caller has just read it (the dashboard reads it once for all its views);
   * default: read now.
   */
  async sample(records?: readonly InstanceRecord[]): Promise<Sample> {
    const byId = new Map<string, { record: InstanceRecord; services: string[] }>();
    for (const r of records ?? (await this.#client.backends.registry.list())) {
      if (r.service.startsWith('svc-cli-')) continue;
      if (this.#services.size > 0 && !this.#services.has(r.service)) continue;
      if (typeof r.endpoints['rpc'] !== 'string' && typeof r.endpoints['logs'] !== 'string')
        continue;
      const seen = byId.get(r.id);
      if (seen) seen.services.push(r.service);
      else byId.set(r.id, { record: r, services: [r.service] });
    }
    const unreachable: Sample['unreachable'] = [];
    const readings = new Map<string, Reading>();
    await Promise.all(
      [...byId].map(async ([id, { record, services }]) => {
        try {
          const rpc = record.endpoints['rpc'];
          const snapshot = (
            rpc !== undefined
              ? await this.#client.call(
                  record.service,
                  'svc.get_metrics',
                  {},
                  { address: rpc, timeout: this.#timeout },
                )
              : await queryLogStream(
                  this.#client.auth,
                  record.endpoints['logs']!,
                  'metrics',
                  {},
                  this.#timeout,
                )
          ) as MetricsSnapshot;
          if (!isSnapshot(snapshot)) throw new Error('answered with something that is not metrics');
          readings.set(id, { snapshot, services: services.sort() });
        } catch (err) {
          unreachable.push({
            service: services.join(','),
            instance: id,
            error: err instanceof Error ? err.message : String(err),
          });
        }
      }),
    );
    const sample = buildSample(readings, this.#previous);
    this.#previous = readings;
    return { ...sample, unreachable };
  }
}

function isSnapshot(value: unknown): value is MetricsSnapshot {
  const v = value as MetricsSnapshot | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.time === 'number' &&
    typeof v.process === 'object' &&
    v.process !== null &&
    Array.isArray(v.entrypoints)
  );
}

/** Rows from this reading and the previous one of each instance (rates need both). */
export function buildSample(
  readings: ReadonlyMap<string, Reading>,
  previous: ReadonlyMap<string, Reading>,
): Omit<Sample, 'unreachable'> {
  const instances: InstanceRow[] = [];
  const eps = new Map<string, EntrypointRow & { weighted: number }>();
  for (const [id, { snapshot, services }] of readings) {
    const before = previous.get(id)?.snapshot;
    const seconds = before ? (snapshot.time - before.time) / 1000 : 0;
    const rate = (now: number, then: number | undefined) =>
      before && seconds > 0 && then !== undefined ? Math.max(0, now - then) / seconds : undefined;
    let calls = 0;
    let errors = 0;
    let callsBefore = 0;
    let errorsBefore = 0;
    let weighted = 0;
    let p99 = 0;
    for (const ep of snapshot.entrypoints) {
      const old = before?.entrypoints.find((e) => e.name === ep.name);
      calls += ep.calls;
      errors += ep.errors;
      callsBefore += old?.calls ?? 0;
      errorsBefore += old?.errors ?? 0;
      weighted += ep.p50 * ep.calls;
      if (ep.calls > 0) p99 = Math.max(p99, ep.p99);
      let row = eps.get(ep.name);
      if (!row) {
        row = {
          name: ep.name,
          kind: ep.kind,
          instances: 0,
          callsPerSec: undefined,
          errorsPerSec: undefined,
          calls: 0,
          errors: 0,
          p50: 0,
          p99: 0,
          weighted: 0,
        };
        eps.set(ep.name, row);
      }
      row.instances++;
      row.calls += ep.calls;
      row.errors += ep.errors;
      row.weighted += ep.p50 * ep.calls;
      row.p99 = Math.max(row.p99, ep.p99);
      const cps = rate(ep.calls, old?.calls ?? (before ? 0 : undefined));
      const errs = rate(ep.errors, old?.errors ?? (before ? 0 : undefined));
      if (cps !== undefined) {
        row.callsPerSec = (row.callsPerSec ?? 0) + cps;
        row.errorsPerSec = (row.errorsPerSec ?? 0) + (errs ?? 0);
      }
    }
    const p = snapshot.process;
    instances.push({
      service: services.join(','),
      instance: id,
      pid: p.pid,
      uptime: p.uptime,
      cpu: p.cpu,
      rss: p.rss,
      loopLag: p.loopLag,
      callsPerSec: rate(calls, before ? callsBefore : undefined),
      errorsPerSec: rate(errors, before ? errorsBefore : undefined),
      p50: calls > 0 ? round(weighted / calls) : 0,
      p99,
    });
  }
  const entrypoints = [...eps.values()].map(({ weighted, ...row }) => ({
    ...row,
    p50: row.calls > 0 ? round(weighted / row.calls) : 0,
  }));
  const times = [...readings.values()].map((r) => r.snapshot.time);
  return { time: times.length > 0 ? Math.max(...times) : Date.now(), instances, entrypoints };
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
