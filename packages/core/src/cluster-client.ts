import { ConfigError } from './errors.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { closeBackends, type BackendContext, type Backends } from './backends.js';
import { Caller, checkContext } from './client.js';
import { DEFAULT_BACKENDS, type SecurityConfig } from './config/instance.js';
import { createEventTransport, createRegistry, createRpcTransport } from './backends.js';
import type { EventMessage } from './events/transport.js';
import type { ServiceDescription } from './inspect.js';
import { RecordLogger, terminalSink, type LogSink } from './log/index.js';
import type { InstanceRecord } from './registry/registry.js';
import { ClusterAuth } from './security/auth.js';
import type { RpcProxies } from './typed.js';

export interface ConnectOptions {
  /** registry URL (default `SVC_REGISTRY`, else `local`) */
  registry?: string;
  /** RPC transport (default `SVC_RPC`, else `net`) */
  rpc?: string;
  /** events backend (default `SVC_EVENTS`, else `local`) */
  events?: string;
  /** cluster name (default `SVC_CLUSTER`, else `default`) */
  cluster?: string;
  /** the client's name: source of its events, first entry of its call-id stacks (default `svc-client`) */
  name?: string;
  /** default call timeout, ms */
  timeout?: number;
  /**
   * where the cluster's secret comes from (default `SVC_SECRET` /
   * `SVC_SECRET_FILE`, else this user's file for the cluster)
   */
  security?: SecurityConfig;
  /** ready-made backends (the test kit's memory hub) */
  backends?: Backends;
  /** where the client's own log records go (default: the terminal, warnings and up) */
  sinks?: LogSink[];
  /**
   * context data of every call and event the client makes (Nameko's
   * `ClusterRpcProxy(context_data=...)`); a call's own `context` option adds to it
   */
  context?: Record<string, unknown>;
}

/**
 * A client of a running cluster, for scripts, the shell, tools and tests:
 * typed `rpc` proxies of the services in `M`, untyped `call`, `emit`,
 * `discover`, `inspect`, `subscribe`.
 *
 *   import type { Greeting } from './services/greeting.js';
 *   const client = await connect<{ Greeting: Greeting }>();
 *   await client.rpc.Greeting.greet({ name: 'Flynne' });   // Promise<string>
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a client of no typed service
export class ClusterClient<M extends object = {}> extends Caller {
  readonly backends: Backends;
  readonly name: string;
  /**
   * The cluster's secret and handshake: what the client shows the
   * cluster's log streams (`svc tail`, the dashboard).
   */
  readonly auth: ClusterAuth;
  #subscribed = false;

  constructor(
    backends: Backends,
    options: {
      name: string;
      timeout?: number;
      context?: Record<string, unknown>;
      auth?: ClusterAuth;
    },
  ) {
    super(backends, options);
    this.backends = backends;
    this.name = options.name;
    this.auth =
      options.auth ??
      new ClusterAuth(
        { cluster: process.env['SVC_CLUSTER'] ?? 'default' },
        { log: new RecordLogger([terminalSink()], { client: options.name }, 'warn') },
      );
  }

  /** Typed proxies of the services in `M`: `client.rpc.Greeting.greet({ name })`. */
  get rpc(): RpcProxies<M> {
    return this.proxies as RpcProxies<M>;
  }

  /** Live instances of every service, by service name. */
  async discover(): Promise<Map<string, InstanceRecord[]>> {
    const out = new Map<string, InstanceRecord[]>();
    for (const r of await this.backends.registry.list()) {
      if (r.service.startsWith('svc-cli-')) continue;
      const list = out.get(r.service);
      if (list) list.push(r);
      else out.set(r.service, [r]);
    }
    return new Map([...out].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** What a service offers: RPC methods with parameters and docs, events, timers, HTTP routes. */
  async inspect(
    service: string,
    options: { timeout?: number; address?: string } = {},
  ): Promise<ServiceDescription> {
    return (await this.call(service, 'svc.inspect', {}, options)) as ServiceDescription;
  }

  /**
   * Receives every event of the given types (a copy each, whatever other
   * subscribers do) until the client closes.
   */
  async subscribe(
    types: readonly string[],
    handler: (event: EventMessage) => void | Promise<void>,
  ): Promise<void> {
    if (this.#subscribed) throw new Error('a client subscribes once');
    this.#subscribed = true;
    const service = `svc-cli-${randomBytes(4).toString('hex')}`;
    for (const type of types) {
      await this.backends.events.subscribe(
        { service, handler: 'print', type, mode: 'broadcast' },
        async (e) => {
          await handler(e);
        },
      );
    }
    const endpoints = await this.backends.events.start();
    await this.backends.registry.register({
      id: randomBytes(8).toString('hex'),
      service,
      host: hostname(),
      pid: process.pid,
      startedAt: Date.now(),
      endpoints,
      subscriptions: types.map((type) => ({ type, mode: 'broadcast' as const, handler: 'print' })),
    });
  }

  async close(): Promise<void> {
    await closeBackends(this.backends);
  }
}

/** `SVC_RPC_UNIX` as a client reads it: on unless `0` or `false`; a ConfigError for anything else. */
function unixSwitch(value: string | undefined): boolean {
  if (value === undefined || value === '' || value === '1' || value === 'true') return true;
  if (value === '0' || value === 'false') return false;
  throw new ConfigError(`SVC_RPC_UNIX: expected 1, 0, true or false, got "${value}"`);
}

/**
 * Connects to a cluster with the given backends (or those of the
 * environment). `M` maps the service names the client calls to their
 * classes, imported as types only: `connect<{ Greeting: Greeting }>()`.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- a client of no typed service
export async function connect<M extends object = {}>(
  options: ConnectOptions = {},
): Promise<ClusterClient<M>> {
  // Checked before any backend is made: nothing to close when it is wrong.
  if (options.context) checkContext(options.context);
  const env = process.env;
  const name = options.name ?? 'svc-client';
  const timeout = options.timeout;
  let backends = options.backends;
  const cluster = options.cluster ?? env['SVC_CLUSTER'] ?? 'default';
  const log = new RecordLogger(options.sinks ?? [terminalSink()], { client: name }, 'warn');
  const auth = new ClusterAuth({ cluster, ...options.security }, { log });
  if (!backends) {
    const ctx: BackendContext = {
      cluster,
      bindHost: env['SVC_BIND_HOST'] || '127.0.0.1',
      ...(env['SVC_ADVERTISE_HOST'] ? { advertiseHost: env['SVC_ADVERTISE_HOST'] } : {}),
      rpcUnix: unixSwitch(env['SVC_RPC_UNIX']),
      log,
      clientName: name,
      auth,
    };
    const registry = await createRegistry(
      options.registry ?? env['SVC_REGISTRY'] ?? DEFAULT_BACKENDS.registry,
      ctx,
    );
    try {
      backends = {
        registry,
        rpc: await createRpcTransport(
          options.rpc ?? env['SVC_RPC'] ?? DEFAULT_BACKENDS.rpc,
          registry,
          ctx,
        ),
        events: await createEventTransport(
          options.events ?? env['SVC_EVENTS'] ?? DEFAULT_BACKENDS.events,
          registry,
          ctx,
        ),
      };
    } catch (err) {
      await registry.close();
      throw err;
    }
  }
  return new ClusterClient<M>(backends, {
    name,
    auth,
    ...(timeout === undefined ? {} : { timeout }),
    ...(options.context ? { context: options.context } : {}),
  });
}
