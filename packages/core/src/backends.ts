import { ConfigError } from './errors.js';
import type { EventTransport } from './events/transport.js';
import type { Limits } from './limits.js';
import type { Logger } from './log/logger.js';
import type { ClusterAuth } from './security/auth.js';
import type { Registry } from './registry/registry.js';
import type { RpcTransport } from './rpc/transport.js';

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
  /** address published in the registry for those listeners (default: `bindHost`; required when that is a wildcard) */
  advertiseHost?: string;
  /** serve RPC on `net` over TLS (PSK from the cluster secret) and publish `tls://` endpoints */
  rpcTls?: boolean;
  /** reach `net` peers on this host by unix socket, and serve one (default true; see rpc/net-local.ts) */
  rpcUnix?: boolean;
  log: Logger;
  /** name of this process's client identity (service name, or `svc-cli`), for queue names */
  clientName: string;
  /** workers per service (`max_workers`): what a queue-fed RPC server takes from the broker at once (AMQP prefetch, as Nameko) */
  maxWorkers?: number;
  /** bounds on buffers, connections and frames (the defaults where not given) */
  limits?: Partial<Limits>;
  /** the cluster's secret and handshake (made from `cluster` and the environment when absent) */
  auth?: ClusterAuth;
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

/**
 * The scheme of a backend URL (`amqp` of `amqp://host/`), or the whole
 * value, lower-cased, when it is a plain name (`local`, `net`).
 */
export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return (m ? m[1]! : url).toLowerCase();
}

// Backends are imported when first chosen, so that a client library a
// process does not use (zeromq, amqplib, node-zookeeper-client) costs it
// nothing.

/**
 * Resolves a registry from its config value: `local` (a directory on this
 * machine) or `zookeeper://host:port/root`.
 */
export async function createRegistry(url: string, ctx: BackendContext): Promise<Registry> {
  switch (schemeOf(url)) {
    case 'local': {
      const { LocalRegistry } = await import('./registry/local.js');
      return LocalRegistry.open(ctx);
    }
    case 'zookeeper': {
      const { ZooKeeperRegistry } = await import('./registry/zookeeper.js');
      return ZooKeeperRegistry.connect(url, ctx);
    }
    default:
      throw new ConfigError(
        `unknown registry "${url}": expected "local" or "zookeeper://host:port/root"`,
      );
  }
}

/**
 * Resolves an RPC transport from its config value: `net` (TCP +
 * MessagePack), `zmq` (ZeroMQ + MessagePack) or `amqp://...` (Nameko's
 * format through RabbitMQ).
 */
export async function createRpcTransport(
  url: string,
  registry: Registry,
  ctx: BackendContext,
): Promise<RpcTransport> {
  switch (schemeOf(url)) {
    case 'zmq': {
      const { ZmqRpcTransport } = await import('./rpc/zmq.js');
      return ZmqRpcTransport.create(registry, ctx);
    }
    case 'net': {
      const { NetRpcTransport } = await import('./rpc/net.js');
      return new NetRpcTransport(registry, ctx);
    }
    case 'amqp':
    case 'amqps': {
      const { AmqpRpcTransport } = await import('./rpc/amqp.js');
      return new AmqpRpcTransport(url, {
        log: ctx.log.child({ backend: 'rpc' }),
        clientName: ctx.clientName,
        ...(ctx.maxWorkers === undefined ? {} : { prefetch: ctx.maxWorkers }),
      });
    }
    default:
      throw new ConfigError(
        `unknown rpc transport "${url}": expected "net", "zmq" or "amqp://..."`,
      );
  }
}

/**
 * Resolves an event transport from its config value: `local` (embedded:
 * over ZeroMQ, subscribers found through the registry; `zmq` names it
 * too) or `amqp://...` (RabbitMQ).
 */
export async function createEventTransport(
  url: string,
  registry: Registry,
  ctx: BackendContext,
): Promise<EventTransport> {
  switch (schemeOf(url)) {
    case 'local':
    case 'zmq': {
      const { ZmqEventTransport } = await import('./events/zmq.js');
      return ZmqEventTransport.create(registry, ctx);
    }
    case 'amqp':
    case 'amqps': {
      const { AmqpEventTransport } = await import('./events/amqp.js');
      return new AmqpEventTransport(url, { log: ctx.log.child({ backend: 'events' }) });
    }
    default:
      throw new ConfigError(`unknown events backend "${url}": expected "local" or "amqp://..."`);
  }
}
