import { connect, type ClusterClient, type InstanceRecord, type MetricsSnapshot } from '@svc/core';
import {
  MetricsServer,
  escapeLabelValue,
  renderPrometheus,
  type PrometheusSource,
} from '@svc/core/internal';
import type { ProcessStatus } from './supervisor.js';

/** How long one instance may take to answer `svc.get_metrics` during a scrape, ms. */
const READ_TIMEOUT_MS = 2000;

export interface ClusterMetricsOptions {
  port: number;
  host: string;
  /** the cluster the children run in (`SVC_CLUSTER`) */
  cluster: string;
  /** the supervisor's processes now */
  processes(): ProcessStatus[];
  onError(err: Error): void;
}

/** The metrics port of `svc node`: the address it listens at, and how to close it. */
export interface ClusterMetrics {
  url: string;
  close(): Promise<void>;
}

/**
 * Serves the whole cluster's metrics on one port: on each scrape, reads
 * `svc.get_metrics` from every instance the supervisor runs (as `svc top`
 * does, through the registry of `SVC_REGISTRY`) and writes them on one page,
 * each process's series labelled `node_instance` (its name in the node file)
 * and `node_index`. Those two stay when a process restarts, so Prometheus
 * sees a counter reset rather than a new series. `/healthz` answers while
 * the supervisor runs; `/readyz` once every process is running.
 */
export async function serveClusterMetrics(options: ClusterMetricsOptions): Promise<ClusterMetrics> {
  let client: Promise<ClusterClient> | undefined;
  const clientNow = () =>
    (client ??= connect({
      name: 'svc-node',
      cluster: options.cluster,
      // Only the registry and RPC are used: no broker connection for events.
      events: 'local',
      sinks: [],
    }).catch((err: unknown) => {
      client = undefined;
      throw err;
    }));

  const server = new MetricsServer(
    {
      metrics: async () => {
        const processes = options.processes();
        const sources = await readInstances(await clientNow(), processes);
        return renderPrometheus(sources) + renderNode(processes, sources.length);
      },
      notReady: () => {
        const waiting = options.processes().filter((p) => p.state !== 'running');
        return waiting.length === 0
          ? undefined
          : waiting.map((p) => `${p.name}[${p.index}] ${p.state}`).join(', ');
      },
    },
    { onError: (err) => options.onError(err) },
  );
  const url = await server.listen(options.port, options.host);
  return {
    url,
    async close() {
      await server.close();
      const c = await client?.catch(() => undefined);
      await c?.close();
    },
  };
}

async function readInstances(
  client: ClusterClient,
  processes: readonly ProcessStatus[],
): Promise<PrometheusSource[]> {
  const byPid = new Map<number, ProcessStatus>();
  for (const p of processes) if (p.pid !== null) byPid.set(p.pid, p);
  const records = new Map<string, InstanceRecord>();
  for (const r of await client.backends.registry.list()) {
    // One record per service of an instance: read each instance once.
    if (byPid.has(r.pid) && typeof r.endpoints['rpc'] === 'string' && !records.has(r.id))
      records.set(r.id, r);
  }
  const read = await Promise.all(
    [...records.values()].map(async (r): Promise<PrometheusSource | undefined> => {
      try {
        const snapshot = (await client.call(
          r.service,
          'svc.get_metrics',
          {},
          { address: r.endpoints['rpc'], timeout: READ_TIMEOUT_MS },
        )) as MetricsSnapshot;
        if (typeof snapshot !== 'object' || snapshot === null || !snapshot.process)
          return undefined;
        const p = byPid.get(r.pid)!;
        return { labels: { node_instance: p.name, node_index: String(p.index) }, snapshot };
      } catch {
        // Gone or busy: its series are missing from this scrape, as a failed target's would be.
        return undefined;
      }
    }),
  );
  return read
    .filter((s): s is PrometheusSource => s !== undefined)
    .sort(
      (a, b) =>
        a.labels['node_instance']!.localeCompare(b.labels['node_instance']!) ||
        Number(a.labels['node_index']) - Number(b.labels['node_index']),
    );
}

/** The supervisor's own figures: processes by state, restarts, and how many instances answered. */
function renderNode(processes: readonly ProcessStatus[], answered: number): string {
  const states = new Map<string, number>();
  const restarts = new Map<string, number>();
  for (const p of processes) {
    const key = `node_instance="${escapeLabelValue(p.name)}",state="${p.state}"`;
    states.set(key, (states.get(key) ?? 0) + 1);
    const slot = `node_instance="${escapeLabelValue(p.name)}",node_index="${p.index}"`;
    restarts.set(slot, Math.max(restarts.get(slot) ?? 0, p.restarts));
  }
  let out = '# HELP svc_node_processes Processes of the node by instance and state\n';
  out += '# TYPE svc_node_processes gauge\n';
  for (const [k, n] of states) out += `svc_node_processes{${k}} ${n}\n`;
  out += '# HELP svc_node_restarts_total Restarts of a process slot since the node started\n';
  out += '# TYPE svc_node_restarts_total counter\n';
  for (const [k, n] of restarts) out += `svc_node_restarts_total{${k}} ${n}\n`;
  out += '# HELP svc_node_instances_read Instances whose metrics this page holds\n';
  out += '# TYPE svc_node_instances_read gauge\n';
  out += `svc_node_instances_read ${answered}\n`;
  return out;
}
