import type { EventTransport } from './events/transport.js';
import type { Logger } from './log/logger.js';
import type { Registry } from './registry/registry.js';
import type { RpcTransport } from './transports/transport.js';

/** The three pluggable parts one process talks to the cluster through. */
export interface Backends {
  registry: Registry;
  rpc: RpcTransport;
  events: EventTransport;
}

/** What every backend factory gets besides its URL. */
export interface BackendContext {
  /** cluster name: keeps clusters on one machine apart (local registry directory, ZooKeeper root) */
  cluster: string;
  /** address direct transports bind to (127.0.0.1 unless configured) */
  bindHost: string;
  log: Logger;
  /** name of this process's client identity (service name, or `svc-cli`), for queue names */
  clientName: string;
  /** workers per service (`max_workers`): what a queue-fed RPC server takes from the broker at once (AMQP prefetch, as Nameko) */
  maxWorkers?: number;
}

/** Where to find each backend: names or URLs as written in config. */
export interface BackendUrls {
  registry: string;
  rpc: string;
  events: string;
}

/** Closes every backend, never throwing; each is given a chance even if another fails. */
export async function closeBackends(backends: Backends): Promise<void> {
  await Promise.allSettled([backends.rpc.close(), backends.events.close()]);
  await Promise.allSettled([backends.registry.close()]);
}
