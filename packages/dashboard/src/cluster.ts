import type { ClusterClient, InstanceRecord, ServiceDescription } from '@svc/core';
import { RpcTimeoutError, UsageError } from '@svc/core';
import { controlRequest, type NodeStatus } from '@svc/node';
import { MetricsCollector } from '@svc/tail';
import type {
  ClusterSnapshot,
  InstanceStatusView,
  InstanceView,
  MetricsPoint,
  NodeView,
} from './wire.js';

export type { ClusterSnapshot, InstanceView, MetricsPoint, NodeView };

export interface ClusterViewOptions {
  client: ClusterClient;
  cluster: string;
  /** the `.svc.yml` of the `svc node` to show (its control socket is found from it) */
  nodeConfig?: string;
  /** time between readings, ms (default 1000) */
  intervalMs?: number;
  /** points kept for the charts (default 300: five minutes at one reading a second) */
  historyPoints?: number;
  /** how long a reading waits for each instance's figures and for the svc node's status, ms (default 800) */
  timeout?: number;
}

/**
 * Reads the cluster once per interval for every browser: the registry's
 * list, `svc.get_metrics` of every instance (as `svc top` does) and the
 * `svc node` supervisor's status; keeps the charts' history; and tells
 * its listeners. Interfaces (`svc.inspect`) are asked once per service
 * and asked again when a new instance of it appears.
 */
export class ClusterView {
  readonly #options: ClusterViewOptions;
  readonly #collector: MetricsCollector;
  readonly #history: MetricsPoint[] = [];
  readonly #listeners = new Set<(snapshot: ClusterSnapshot, point: MetricsPoint) => void>();
  readonly #inspected = new Map<
    string,
    { ids: string; description: Promise<ServiceDescription> }
  >();
  #records: InstanceRecord[] = [];
  #snapshot: ClusterSnapshot;
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  #reading: Promise<void> | undefined;
  /** registry reads so far (one per reading, however many pages are open) */
  reads = 0;

  constructor(options: ClusterViewOptions) {
    this.#options = options;
    this.#collector = new MetricsCollector(options.client, {
      timeout: options.timeout ?? 800,
    });
    this.#snapshot = {
      cluster: options.cluster,
      time: Date.now(),
      services: [],
      instances: [],
      entrypoints: [],
    };
  }

  /** The registry's latest list (what the log follower connects to). */
  list = async (): Promise<InstanceRecord[]> => this.#records;

  get snapshot(): ClusterSnapshot {
    return this.#snapshot;
  }

  get history(): readonly MetricsPoint[] {
    return this.#history;
  }

  /** Called after every reading. */
  onUpdate(fn: (snapshot: ClusterSnapshot, point: MetricsPoint) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Takes a first reading, then one per interval (never two at once). */
  async start(): Promise<void> {
    await this.read();
    const every = this.#options.intervalMs ?? 1000;
    const next = () => {
      if (this.#stopped) return;
      this.#timer = setTimeout(() => void this.read().finally(next), every);
    };
    next();
  }

  /** One reading of registry, metrics and node; resolves when the listeners have been told. */
  read(): Promise<void> {
    this.#reading ??= this.#read().finally(() => (this.#reading = undefined));
    return this.#reading;
  }

  async #read(): Promise<void> {
    let records: InstanceRecord[];
    try {
      records = (await this.#options.client.backends.registry.list()).filter(
        (r) => !r.service.startsWith('svc-cli-'),
      );
      this.reads++;
    } catch {
      return; // a registry hiccup: the next reading tries again
    }
    this.#records = records;
    const [sample, node] = await Promise.all([this.#collector.sample(records), this.#readNode()]);
    if (this.#stopped) return;

    const rows = new Map(sample.instances.map((row) => [row.instance, row]));
    const missing = new Map(sample.unreachable.map((u) => [u.instance, u.error]));
    const byId = new Map<string, InstanceView>();
    const services = new Map<string, string[]>();
    for (const r of records) {
      (services.get(r.service) ?? services.set(r.service, []).get(r.service)!).push(r.id);
      const seen = byId.get(r.id);
      if (seen) {
        seen.services.push(r.service);
        continue;
      }
      const row = rows.get(r.id);
      const view: InstanceView = {
        id: r.id,
        services: [r.service],
        host: r.host,
        pid: r.pid,
        startedAt: r.startedAt,
        endpoints: r.endpoints,
        subscriptions: r.subscriptions,
      };
      if (row) {
        const { service: _s, instance: _i, pid: _p, ...figures } = row;
        view.figures = figures;
      }
      const why = missing.get(r.id);
      if (why !== undefined) view.unreachable = why;
      byId.set(r.id, view);
    }
    this.#snapshot = {
      cluster: this.#options.cluster,
      time: sample.time,
      services: [...services]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, ids]) => ({ name, instances: ids })),
      instances: [...byId.values()],
      entrypoints: sample.entrypoints.sort((a, b) => a.name.localeCompare(b.name)),
      ...(node ? { node } : {}),
    };
    const point: MetricsPoint = { time: sample.time, entrypoints: {}, instances: {} };
    for (const e of sample.entrypoints)
      point.entrypoints[e.name] = [e.callsPerSec ?? 0, e.errorsPerSec ?? 0, e.p50, e.p99];
    for (const i of sample.instances) point.instances[i.instance] = [i.cpu, i.rss];
    this.#history.push(point);
    if (this.#history.length > (this.#options.historyPoints ?? 300)) this.#history.shift();
    // A service whose set of instances changed may run new code: ask its interface again.
    for (const [name, entry] of this.#inspected) {
      if (entry.ids !== idsOf(services.get(name))) this.#inspected.delete(name);
    }
    for (const fn of this.#listeners) {
      try {
        fn(this.#snapshot, point);
      } catch {
        // a failing listener must not stop the others
      }
    }
  }

  async #readNode(): Promise<NodeView | undefined> {
    const config = this.#options.nodeConfig;
    if (config === undefined) return undefined;
    try {
      // Bounded like an instance's figures: a supervisor that does not answer (its loop held
      // while it starts fifty processes: 21 s on one busy core) must not hold up the reading of
      // every instance, nor the dashboard's start, which waits for its first reading.
      const status = (await controlRequest(
        config,
        { cmd: 'status' },
        { timeoutMs: this.#options.timeout ?? 800 },
      )) as NodeStatus;
      return { config: status.config, running: true, status };
    } catch (err) {
      const error = (err as Error).message;
      // A slow answer says nothing of its processes: what it said last stands (restarts check it).
      const last = this.#snapshot.node;
      if (err instanceof RpcTimeoutError && last?.status) return { ...last, error };
      return { config, running: false, error };
    }
  }

  /** A service's interface (`svc.inspect`), asked once and kept while its instances stay the same. */
  describe(service: string): Promise<ServiceDescription> {
    const entry = this.#snapshot.services.find((s) => s.name === service);
    if (!entry) return Promise.reject(new UsageError(`no instance of ${service} is running`));
    const ids = idsOf(entry.instances);
    const cached = this.#inspected.get(service);
    if (cached && cached.ids === ids) return cached.description;
    const description = this.#options.client.inspect(service, {
      timeout: this.#options.timeout ?? 3000,
    });
    this.#inspected.set(service, { ids, description });
    // A failed answer is not kept: the next look asks again.
    description.catch(() => {
      if (this.#inspected.get(service)?.description === description)
        this.#inspected.delete(service);
    });
    return description;
  }

  /** `svc.status` of each instance of a service that has an RPC address (all at once, on demand). */
  async statuses(service: string): Promise<Record<string, InstanceStatusView>> {
    const out: Record<string, InstanceStatusView> = {};
    await Promise.all(
      this.#records
        .filter((r) => r.service === service && typeof r.endpoints['rpc'] === 'string')
        .map(async (r) => {
          try {
            // The instance's own answer: the page reads its fields as optional.
            out[r.id] = (await this.#options.client.call(
              service,
              'svc.status',
              {},
              { address: r.endpoints['rpc']!, timeout: this.#options.timeout ?? 3000 },
            )) as InstanceStatusView;
          } catch (err) {
            out[r.id] = { error: (err as Error).message };
          }
        }),
    );
    return out;
  }

  /** Asks the supervisor for a rolling restart of one of its instances (by `.svc.yml` name). */
  async restart(name: string): Promise<void> {
    const config = this.#options.nodeConfig;
    if (config === undefined)
      throw new UsageError('this dashboard shows no svc node (start it with --node FILE)');
    const processes = this.#snapshot.node?.status?.processes ?? [];
    if (!processes.some((p) => p.name === name))
      throw new UsageError(`the svc node runs no instance named ${JSON.stringify(name)}`);
    await controlRequest(config, { cmd: 'restart', name });
    await this.read();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    await this.#reading;
  }
}

function idsOf(ids: readonly string[] | undefined): string {
  return [...(ids ?? [])].sort().join(',');
}
