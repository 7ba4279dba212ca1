import { hostname } from 'node:os';
import type { ServiceContainer } from './container/container.js';
import { MethodNotFoundError } from './errors.js';
import type { MethodDescription } from './inspect.js';
import type { RingSink } from './log/index.js';
import type { Metrics } from './metrics.js';

/*
 * The `svc.*` RPC methods every service answers, whatever its class: what
 * `svc inspect`, `svc top`, `svc discover` and `svc tail --trace` ask.
 * Their descriptions (in `svc.inspect()`) and their answers are both here.
 */

/** The built-in methods as `svc.inspect()` describes them. */
export const BUILTIN_METHODS: MethodDescription[] = [
  {
    name: 'svc.get_metrics',
    params: [],
    doc: 'Process figures and per-method calls, errors and latency percentiles',
  },
  {
    name: 'svc.inspect',
    params: [],
    doc: 'Returns a description of all available RPC methods of this service',
  },
  {
    name: 'svc.recent_logs',
    params: [
      { name: 'traceId', type: 'string', optional: true },
      { name: 'limit', type: 'integer', optional: true },
    ],
    doc: 'Recent log records of this instance, optionally of one trace',
  },
  {
    name: 'svc.ping',
    params: [{ name: 'payload', type: 'any', optional: true }],
    doc: 'Returns its payload',
  },
  { name: 'svc.status', params: [], doc: 'Instance id, pid, uptime, state and running workers' },
];

/** The instance a container runs in, as far as the built-ins that describe it need. */
export interface BuiltinHost {
  readonly id: string;
  readonly state: string;
  readonly startedAt: number;
  readonly endpoints: Record<string, string>;
  readonly containers: readonly ServiceContainer[];
  readonly metrics: Metrics;
  readonly ring: RingSink;
}

/** Answers `svc.<name>` for a service; MethodNotFoundError for a name that is not built in. */
export async function callBuiltin(
  container: ServiceContainer,
  name: string,
  params: unknown,
): Promise<unknown> {
  const p = (params ?? {}) as Record<string, unknown>;
  switch (name) {
    case 'ping':
      return p['payload'] ?? null;
    case 'inspect':
      return container.describe();
  }
  const host = container.options.instance;
  if (host) {
    switch (name) {
      case 'status':
        return status(host);
      case 'get_metrics':
        return { instance: host.id, ...host.metrics.snapshot() };
      case 'recent_logs':
        // Records kept in the ring, for `svc tail --trace` after the fact.
        return host.ring.recent({
          ...(typeof p['traceId'] === 'string' ? { traceId: p['traceId'] } : {}),
          ...(typeof p['limit'] === 'number' && p['limit'] > 0 ? { limit: p['limit'] } : {}),
        });
    }
  }
  throw new MethodNotFoundError(`${container.name} has no built-in method "svc.${name}"`);
}

function status(host: BuiltinHost): Record<string, unknown> {
  return {
    instance: host.id,
    pid: process.pid,
    host: hostname(),
    state: host.state,
    uptime: Math.round(process.uptime() * 1000) / 1000,
    startedAt: host.startedAt,
    endpoints: host.endpoints,
    services: host.containers.map((c) => ({
      service: c.name,
      state: c.state,
      activeWorkers: c.activeWorkers,
      queuedWorkers: c.queuedWorkers,
    })),
  };
}
