import type {
  ClusterClient,
  HistogramData,
  InstanceRecord,
  MetricsSnapshot,
  ProcessFigures,
} from '@svc/core';
import {
  histogramQuantile,
  isHistogramData,
  mergeHistograms,
  subtractHistograms,
} from '@svc/core/internal';
import { queryLogStream } from '../query.js';

/** One row of the instance view. */
export interface InstanceRow {
  /** services the instance runs, comma-separated */
  service: string;
  instance: string;
  pid: number;
  /** seconds */
  uptime: number;
  /** % of one core since the previous reading (since the instance started, on a first reading) */
  cpu: number;
  /** bytes */
  rss: number;
  /** mean event-loop delay since the previous reading, ms */
  loopLag: number;
  /** calls of every entrypoint (RPC, events, HTTP, timers) per second; undefined on a first reading */
  callsPerSec: number | undefined;
  errorsPerSec: number | undefined;
  /** latency percentiles over every call of the instance since the previous reading, ms */
  p50: number;
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
  /** latency percentiles of the calls on every instance since the previous reading, ms */
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

/**
 * Rows from this reading and the previous one of each instance. Every
 * figure an instance reports is cumulative; rates, CPU use, loop lag and
 * percentiles over the interval come from the difference of two readings
 * (the whole life of an instance on its first one). Percentiles of an
 * entrypoint come from the sum of its instances' latency histograms: a
 * percentile of the cluster, not a mean of percentiles.
 */
export function buildSample(
  readings: ReadonlyMap<string, Reading>,
  previous: ReadonlyMap<string, Reading>,
): Omit<Sample, 'unreachable'> {
  const instances: InstanceRow[] = [];
  const eps = new Map<string, EntrypointRow & { latencies: HistogramData[] }>();
  for (const [id, { snapshot, services }] of readings) {
    const before = previous.get(id)?.snapshot;
    const seconds = before ? (snapshot.time - before.time) / 1000 : 0;
    const rate = (now: number, then: number | undefined) =>
      before && seconds > 0 && then !== undefined ? Math.max(0, now - then) / seconds : undefined;
    let calls = 0;
    let errors = 0;
    let callsBefore = 0;
    let errorsBefore = 0;
    const latencies: HistogramData[] = [];
    // The previous reading's entrypoints by name, looked up once each: a scan per entrypoint
    // is quadratic in an instance's entrypoints. The first of a repeated name wins, as it did.
    const oldByName = new Map<string, MetricsSnapshot['entrypoints'][number]>();
    for (const e of before?.entrypoints ?? []) if (!oldByName.has(e.name)) oldByName.set(e.name, e);
    for (const ep of snapshot.entrypoints) {
      const old = oldByName.get(ep.name);
      calls += ep.calls;
      errors += ep.errors;
      callsBefore += old?.calls ?? 0;
      errorsBefore += old?.errors ?? 0;
      const latency = isHistogramData(ep.latency)
        ? subtractHistograms(ep.latency, isHistogramData(old?.latency) ? old.latency : undefined)
        : undefined;
      if (latency) latencies.push(latency);
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
          latencies: [],
        };
        eps.set(ep.name, row);
      }
      row.instances++;
      row.calls += ep.calls;
      row.errors += ep.errors;
      if (latency) row.latencies.push(latency);
      const cps = rate(ep.calls, old?.calls ?? (before ? 0 : undefined));
      const errs = rate(ep.errors, old?.errors ?? (before ? 0 : undefined));
      if (cps !== undefined) {
        row.callsPerSec = (row.callsPerSec ?? 0) + cps;
        row.errorsPerSec = (row.errorsPerSec ?? 0) + (errs ?? 0);
      }
    }
    const p = snapshot.process;
    const merged = mergeHistograms(latencies);
    instances.push({
      service: services.join(','),
      instance: id,
      pid: p.pid,
      uptime: p.uptime,
      cpu: intervalCpu(p, before?.process, seconds),
      rss: p.rss,
      loopLag: intervalLoopLag(p, before?.process),
      callsPerSec: rate(calls, before ? callsBefore : undefined),
      errorsPerSec: rate(errors, before ? errorsBefore : undefined),
      p50: merged ? round(histogramQuantile(merged, 0.5)) : 0,
      p99: merged ? round(histogramQuantile(merged, 0.99)) : 0,
    });
  }
  const entrypoints = [...eps.values()].map(({ latencies, ...row }) => {
    const merged = mergeHistograms(latencies);
    return {
      ...row,
      p50: merged ? round(histogramQuantile(merged, 0.5)) : 0,
      p99: merged ? round(histogramQuantile(merged, 0.99)) : 0,
    };
  });
  const times = [...readings.values()].map((r) => r.snapshot.time);
  return { time: times.length > 0 ? Math.max(...times) : Date.now(), instances, entrypoints };
}

/** CPU use between two readings, % of one core; the instance's average on a first reading. */
function intervalCpu(
  now: ProcessFigures,
  before: ProcessFigures | undefined,
  seconds: number,
): number {
  const total = (p: ProcessFigures) =>
    typeof p.cpuUser === 'number' && typeof p.cpuSystem === 'number'
      ? p.cpuUser + p.cpuSystem
      : undefined;
  const t1 = total(now);
  const t0 = before && total(before);
  if (t1 === undefined || t0 === undefined || seconds <= 0 || t1 < t0) return now.cpu;
  return round(((t1 - t0) / seconds) * 100);
}

/** Mean event-loop delay between two readings, ms; the instance's mean on a first reading. */
function intervalLoopLag(now: ProcessFigures, before: ProcessFigures | undefined): number {
  if (!isHistogramData(now.loopLagHistogram)) return now.loopLag;
  const h = subtractHistograms(
    now.loopLagHistogram,
    before && isHistogramData(before.loopLagHistogram) ? before.loopLagHistogram : undefined,
  );
  return h.count > 0 ? round(h.sum / h.count) : now.loopLag;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
