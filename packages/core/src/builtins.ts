import { hostname } from 'node:os';
import type { ServiceContainer } from './container/container.js';
import type { CallHeaders } from './context-headers.js';
import type { DebugConfig } from './config/instance.js';
import { evaluateInInstance } from './debug/eval.js';
import { closeDebugger, openDebugger } from './debug/inspector.js';
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

/**
 * The built-ins that reach into the process, each answered only where the
 * instance's config turns it on (`debug: { shell: true }`,
 * `debug: { inspector: true }`).
 */
export const DEBUG_METHODS: Record<keyof DebugConfig, MethodDescription> = {
  shell: {
    name: 'svc.eval',
    params: [
      { name: 'code', type: 'string' },
      { name: 'format', type: 'string', optional: true },
      { name: 'color', type: 'boolean', optional: true },
      { name: 'timeout', type: 'integer', optional: true },
    ],
    doc: 'Runs code in this instance with its services in scope (svc shell --instance)',
  },
  inspector: {
    name: 'svc.debug',
    params: [{ name: 'close', type: 'boolean', optional: true }],
    doc: 'Opens (or closes) the Node.js inspector on 127.0.0.1 and returns its URLs (svc debug)',
  },
};

/** The built-ins a service of this container answers, as `svc.inspect()` lists them. */
export function builtinMethods(container: ServiceContainer): MethodDescription[] {
  const debug = container.options.instance?.config.debug;
  if (!debug?.shell && !debug?.inspector) return BUILTIN_METHODS;
  return [
    ...BUILTIN_METHODS,
    ...(debug.shell ? [DEBUG_METHODS.shell] : []),
    ...(debug.inspector ? [DEBUG_METHODS.inspector] : []),
  ];
}

/** The instance a container runs in, as far as the built-ins that describe it need. */
export interface BuiltinHost {
  readonly id: string;
  readonly state: string;
  readonly startedAt: number;
  readonly endpoints: Record<string, string>;
  readonly containers: readonly ServiceContainer[];
  readonly metrics: Metrics;
  readonly ring: RingSink;
  /** the config file (named in the error of a debug method that is off) and its `debug:` section */
  readonly config: { readonly file: string; readonly debug: DebugConfig };
}

/** Answers `svc.<name>` for a service; MethodNotFoundError for a name that is not built in. */
export async function callBuiltin(
  container: ServiceContainer,
  name: string,
  params: unknown,
  headers?: Partial<CallHeaders>,
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
      case 'eval':
        enabled(container, host, 'shell');
        return evaluateInInstance(host.containers, { instance: host }, p, headers);
      case 'debug':
        enabled(container, host, 'inspector');
        return p['close'] === true ? closeDebugger() : openDebugger();
    }
  }
  throw new MethodNotFoundError(`${container.name} has no built-in method "svc.${name}"`);
}

/** Throws, naming the config key, unless the instance's config turns this debug method on. */
function enabled(container: ServiceContainer, host: BuiltinHost, key: keyof DebugConfig): void {
  if (host.config.debug[key]) return;
  const method = DEBUG_METHODS[key].name;
  throw new MethodNotFoundError(
    `${method} is off in instance ${host.id} (${container.name}): set "debug: { ${key}: true }" in its config (${host.config.file}) to allow it`,
    { data: { service: container.name, method, config: `debug.${key}` } },
  );
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
