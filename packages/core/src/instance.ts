import { randomBytes } from 'node:crypto';
import { closeSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import {
  closeBackends,
  createEventTransport,
  createRegistry,
  createRpcTransport,
  type BackendContext,
  type Backends,
} from './backends.js';
import { loadExport } from './config/modules.js';
import type { InstanceConfig } from './config/instance.js';
import { ConfigView } from './config/view.js';
import { ServiceContainer } from './container/container.js';
import { ConfigError, UnknownServiceError, toWireError } from './errors.js';
import type { ClassDocs } from './inspect.js';
import { Hooks, type Plugin } from './hooks.js';
import { HttpEntrypointServer } from './http/server.js';
import { DEFAULT_LIMITS } from './limits.js';
import { RecordLogger, RingSink, terminalSink, type LogSink } from './log/index.js';
import type { Logger } from './log/logger.js';
import { Metrics } from './metrics.js';
import { renderPrometheus } from './metrics/prometheus.js';
import { MetricsServer } from './metrics/server.js';
import type { InstanceRecord } from './registry/registry.js';
import { ClusterAuth } from './security/auth.js';
import { Service, type ServiceClass } from './service.js';
import { idempotentMetadata } from './rpc/failover.js';
import type { RpcAnswer, RpcRequest } from './rpc/transport.js';
import { startTracing, tracingSettings, type Tracing } from './tracing/tracer.js';

/**
 * Something that runs beside the containers of an instance and may publish
 * an endpoint (the log stream of `svc tail`, say).
 */
export interface InstanceExtension {
  /** Starts; returns endpoints to add to the instance's registry records. */
  start(instance: Instance): Promise<Record<string, string>>;
  stop(): Promise<void>;
}

export interface InstanceOptions {
  config: InstanceConfig;
  /** ready-made backends (the test kit's memory hub); default: built from the config's URLs */
  backends?: Backends;
  /** service classes by interface name; default: loaded from each interface's `class:` */
  classes?: Record<string, ServiceClass>;
  /** where log records go besides the ring of recent records (default: the terminal) */
  sinks?: LogSink[];
  plugins?: Plugin[];
  extensions?: InstanceExtension[];
  /** the HTTP socket handed over by `svc node` (default: `SVC_SOCKET_FD` from the environment) */
  httpFd?: number;
  /** where spans go (default: an OTLP exporter when the config or OTEL_ variables turn export on) */
  tracing?: Tracing;
  /**
   * The docs of a class from its source file (the CLI reads what it wrote
   * when it compiled the file); asked lazily, by `svc.inspect()`.
   */
  docs?: (sourceFile: string, className: string) => ClassDocs | undefined;
}

/**
 * One process running the services of one config: its backends, a
 * container per service, the HTTP server, and the built-in `svc.*`
 * methods. `start()` registers it; `stop()` unregisters first, then drains.
 */
export class Instance {
  readonly id = randomBytes(8).toString('hex');
  readonly config: InstanceConfig;
  readonly log: Logger;
  readonly ring: RingSink;
  readonly metrics = new Metrics();
  readonly hooks = new Hooks();
  readonly containers: ServiceContainer[] = [];
  readonly startedAt = Date.now();
  /** the cluster's secret and the handshake every listener of this instance runs */
  readonly auth: ClusterAuth;
  backends: Backends | undefined;
  endpoints: Record<string, string> = {};
  #options: InstanceOptions;
  #http: HttpEntrypointServer | undefined;
  #metricsServer: MetricsServer | undefined;
  #records: InstanceRecord[] = [];
  #state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new';
  #onContainers: Array<(containers: ServiceContainer[]) => void> = [];
  #tracing: Tracing | undefined;
  /** why the running instance was not ready at the last probe (see #probeReadiness) */
  #outage: string | undefined;

  constructor(options: InstanceOptions) {
    this.#options = options;
    this.config = options.config;
    const limits = options.config.limits ?? DEFAULT_LIMITS;
    this.ring = new RingSink(2000, limits.logRingBytes, limits.logRecordBytes);
    const calls = options.config.log.calls === 'output';
    const sinks = [this.ring, ...(options.sinks ?? [terminalSink(process.stderr, { calls })])];
    this.log = new RecordLogger(sinks, { instance: this.id }, options.config.log.level);
    this.auth = new ClusterAuth(
      { cluster: options.config.cluster, ...options.config.security },
      { log: this.log },
    );
    this.hooks.onHookError((hook, err) =>
      this.log.error(`hook ${hook} failed: ${(err as Error).message}`),
    );
    for (const p of options.plugins ?? []) this.hooks.add(p);
    this.metrics.onSeriesDropped((name) =>
      this.log.warn(`metric ${name}: more than 1000 label sets; values of new ones are dropped`),
    );
  }

  /** Calls `fn` with the containers once they exist, before any starts (the test kit replaces dependencies there). */
  onContainers(fn: (containers: ServiceContainer[]) => void): void {
    this.#onContainers.push(fn);
  }

  get state(): string {
    return this.#state;
  }

  /** The address the HTTP server listens at, when the instance serves HTTP. */
  get httpUrl(): string | undefined {
    return this.endpoints['http'];
  }

  async start(): Promise<void> {
    this.#state = 'starting';
    try {
      await this.#start();
    } catch (err) {
      await this.kill();
      throw err;
    }
    this.#state = 'started';
    this.#signalReady();
  }

  async #start(): Promise<void> {
    const cfg = this.config;
    // First: /healthz and /readyz answer (not ready) while the rest starts.
    if (cfg.metrics.port !== undefined)
      await this.#serveMetrics(cfg.metrics.port, cfg.metrics.host);
    for (const spec of cfg.plugins) {
      const plugin = await loadExport(spec, cfg.dir, `${cfg.file}: plugins`);
      this.hooks.add(
        (typeof plugin === 'function' ? new (plugin as new () => Plugin)() : plugin) as Plugin,
      );
    }
    let settings;
    try {
      settings = tracingSettings(cfg.tracing);
    } catch (err) {
      throw new ConfigError(`${cfg.file}: tracing: ${(err as Error).message}`);
    }
    if (this.#options.tracing) this.#tracing = this.#options.tracing;
    else if (settings) {
      try {
        this.#tracing = await startTracing(settings, this);
      } catch (err) {
        // A missing optional dependency is the user's to fix: one line, not a stack.
        throw new ConfigError(`${cfg.file}: tracing: ${(err as Error).message}`, { cause: err });
      }
    }
    const ctx: BackendContext = {
      auth: this.auth,
      cluster: cfg.cluster,
      bindHost: cfg.bindHost,
      advertiseHost: cfg.advertiseHost,
      rpcTls: cfg.rpcTls,
      rpcUnix: cfg.rpcUnix,
      log: this.log,
      clientName: cfg.interfaces[0]?.name ?? 'svc',
      // The most any of its services runs at once: a smaller prefetch would idle workers.
      maxWorkers: Math.max(cfg.maxWorkers, ...cfg.interfaces.map((i) => i.maxWorkers ?? 0)),
      limits: cfg.limits,
    };
    // A secret file that cannot be read or made stops the instance here, with its reason.
    if (!this.#options.backends) this.auth.check();
    this.backends =
      this.#options.backends ??
      (await (async () => {
        const registry = await createRegistry(cfg.registry, ctx);
        return {
          registry,
          rpc: await createRpcTransport(cfg.rpc, registry, ctx),
          events: await createEventTransport(cfg.events, registry, ctx),
        };
      })());

    for (const iface of cfg.interfaces) {
      const cls = await this.#loadClass(iface.name, iface.class);
      const view = new ConfigView({
        file: cfg.file,
        dir: cfg.dir,
        section: iface.options,
        root: cfg.raw,
        sectionPath: `interfaces.${iface.name}`,
      });
      const source = iface.class.slice(0, iface.class.lastIndexOf('#'));
      const docs = this.#options.docs;
      const container = new ServiceContainer(cls, {
        backends: this.backends,
        config: view,
        log: this.log,
        hooks: this.hooks,
        metrics: this.metrics,
        instanceId: this.id,
        maxWorkers: cls.maxWorkers ?? iface.maxWorkers ?? cfg.maxWorkers,
        stopTimeout: cfg.stopTimeout,
        rpcTimeout: cfg.rpcTimeout,
        ...(docs ? { docs: () => docs(resolve(cfg.dir, source), cls.name) } : {}),
        ...(this.#tracing ? { tracer: this.#tracing.tracer(iface.name) } : {}),
        instance: this,
      });
      this.containers.push(container);
    }

    for (const fn of this.#onContainers) fn(this.containers);
    for (const c of this.containers) await c.setup();
    const subscriptions = new Map(this.containers.map((c) => [c, c.eventSubscriptions()]));
    for (const subs of subscriptions.values()) {
      for (const { spec, handle } of subs) await this.backends.events.subscribe(spec, handle);
    }
    for (const c of this.containers) await c.start();

    const byName = new Map(this.containers.map((c) => [c.name, c]));
    Object.assign(
      this.endpoints,
      await this.backends.rpc.listen([...byName.keys()], (req) => this.#dispatch(byName, req)),
    );
    Object.assign(this.endpoints, await this.backends.events.start());

    const httpFd = this.#httpFd();
    const limits = cfg.limits ?? DEFAULT_LIMITS;
    const http = new HttpEntrypointServer(this.containers, {
      host: cfg.http.host,
      ...(cfg.http.advertise === undefined ? {} : { advertise: cfg.http.advertise }),
      ...(cfg.http.port === undefined ? {} : { port: cfg.http.port }),
      ...(httpFd === undefined ? {} : { fd: httpFd }),
      trustTraceHeader: cfg.http.trustTraceHeader,
      maxConnections: limits.httpMaxConnections,
      headersTimeout: limits.httpHeadersTimeout,
      requestTimeout: limits.httpRequestTimeout,
      log: this.log,
      hooks: this.hooks,
    });
    if (http.hasRoutes) {
      this.#http = http;
      try {
        this.endpoints['http'] = await http.start();
      } catch (err) {
        throw httpPortHint(err, httpFd, cfg.http.port);
      }
    }
    for (const ext of this.#options.extensions ?? [])
      Object.assign(this.endpoints, await ext.start(this));

    const host = hostname();
    this.#records = this.containers.map((c) => ({
      id: this.id,
      service: c.name,
      host,
      pid: process.pid,
      startedAt: this.startedAt,
      endpoints: this.endpoints,
      subscriptions: subscriptions.get(c)!.map(({ spec }) => ({
        type: spec.type,
        mode: spec.mode,
        handler: spec.handler,
        ...(spec.source === undefined ? {} : { source: spec.source }),
      })),
      ...idempotentMetadata(c.entrypoints),
    }));
    for (const r of this.#records) await this.backends.registry.register(r);
    this.log.info(
      `started ${this.containers.map((c) => c.name).join(', ')} (${Object.entries(this.endpoints)
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')})`,
    );
  }

  /**
   * Graceful stop: unregister (callers stop choosing us), keep answering
   * for a moment while their registries catch up, stop HTTP, drain the
   * containers, close the backends.
   */
  async stop(options: { graceMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopping' || this.#state === 'stopped') return;
    this.#state = 'stopping';
    const backends = this.backends;
    if (backends) {
      await Promise.allSettled(
        this.#records.map((r) => backends.registry.unregister(r.service, r.id)),
      );
      if (this.#records.length > 0) await sleep(options.graceMs ?? 300);
    }
    await this.#http?.stop(this.config.stopTimeout);
    await Promise.allSettled(this.containers.map((c) => c.stop()));
    for (const ext of this.#options.extensions ?? []) await ext.stop().catch(() => {});
    if (backends) await closeBackends(backends);
    await this.#metricsServer?.close();
    this.metrics.close();
    // The spans of the last workers go out before the process ends.
    await this.#tracing?.shutdown();
    this.#state = 'stopped';
    this.log.info('stopped');
  }

  /** Stops at once. Never throws. */
  async kill(): Promise<void> {
    this.#state = 'stopped';
    await Promise.allSettled(this.containers.map((c) => c.kill()));
    await this.#http?.stop(0).catch(() => {});
    for (const ext of this.#options.extensions ?? []) await ext.stop().catch(() => {});
    if (this.backends) await closeBackends(this.backends);
    await this.#metricsServer?.close().catch(() => {});
    this.metrics.close();
    await this.#tracing?.shutdown().catch(() => {});
  }

  /**
   * Why the instance is not ready for traffic (Kubernetes' readiness), or
   * undefined once it has started: its backends connected, every service
   * started and registered. While it runs, the first backend that says it
   * cannot serve (`rpc: RabbitMQ connection lost, reconnecting`) makes it
   * not ready until that backend is back. Not ready again from the moment
   * it stops.
   */
  notReady(): string | undefined {
    if (this.#state !== 'started') return this.#state;
    const b = this.backends;
    if (!b) return undefined;
    for (const [role, backend] of [
      ['registry', b.registry],
      ['rpc', b.rpc],
      ['events', b.events],
    ] as const) {
      const why = backend.unavailable?.();
      if (why !== undefined) return `${role}: ${why}`;
    }
    return undefined;
  }

  /**
   * What `/readyz` answers. A running instance that turns not ready (a
   * backend's outage) says so once at warn, and once at info when it is
   * ready again: as the probes see it, not once per probe.
   */
  #probeReadiness(): string | undefined {
    const why = this.notReady();
    if (this.#state !== 'started') return why;
    if (why !== undefined && this.#outage === undefined) this.log.warn(`not ready: ${why}`);
    if (why === undefined && this.#outage !== undefined) this.log.info('ready again');
    this.#outage = why;
    return why;
  }

  async #serveMetrics(port: number, host: string): Promise<void> {
    const server = new MetricsServer(
      {
        metrics: () => renderPrometheus([{ labels: {}, snapshot: this.metrics.snapshot() }]),
        live: () => this.#state !== 'stopped',
        notReady: () => this.#probeReadiness(),
      },
      { onError: (err) => this.log.warn(`metrics port: ${err.message}`) },
    );
    try {
      this.endpoints['metrics'] = await server.listen(port, host);
    } catch (err) {
      throw new ConfigError(
        `${this.config.file}: metrics: cannot listen on ${host}:${port} (${(err as Error).message})`,
        { cause: err },
      );
    }
    this.#metricsServer = server;
  }

  /** The container of a service. */
  container(name: string): ServiceContainer {
    const c = this.containers.find((x) => x.name === name);
    if (!c) throw new ConfigError(`this instance runs no service "${name}"`);
    return c;
  }

  #dispatch(
    byName: Map<string, ServiceContainer>,
    req: RpcRequest,
  ): RpcAnswer | Promise<RpcAnswer> {
    const c = byName.get(req.service);
    if (!c) {
      const error = new UnknownServiceError(`this instance does not run ${req.service}`);
      return { ok: false, error: toWireError(error) };
    }
    return c.handleRpc(req);
  }

  async #loadClass(name: string, spec: string): Promise<ServiceClass> {
    const given = this.#options.classes?.[name];
    if (given) return given;
    const where = `${this.config.file}: interfaces.${name}.class`;
    const cls = await loadExport(spec, this.config.dir, where);
    if (typeof cls !== 'function' || !(cls.prototype instanceof Service)) {
      throw new ConfigError(`${where}: ${spec} is not a class extending Service`);
    }
    const svc = cls as ServiceClass;
    if (svc.serviceName !== name) {
      throw new ConfigError(
        `${where}: ${spec} is named "${String(svc.serviceName)}" (static serviceName) but configured as "${name}"`,
      );
    }
    return svc;
  }

  #httpFd(): number | undefined {
    if (this.#options.httpFd !== undefined) return this.#options.httpFd;
    const env = process.env['SVC_SOCKET_FD'];
    return env && /^\d+$/.test(env) ? Number(env) : undefined;
  }

  /** Tells `svc node` this process serves (SVC_READY_FD), once. */
  #signalReady(): void {
    const fd = process.env['SVC_READY_FD'];
    if (!fd || !/^\d+$/.test(fd)) return;
    delete process.env['SVC_READY_FD'];
    try {
      writeSync(Number(fd), 'ready\n');
      closeSync(Number(fd));
    } catch {
      // Not started by svc node after all: nothing to tell.
    }
  }
}

/**
 * Under `svc node`, an HTTP port every process of an instance binds for
 * itself is taken by its sibling, or by the process a restart replaces
 * (which stops only once the new one is ready): said with the fix, a socket
 * of the instance's name in `.svc.yml`, which the supervisor binds once.
 */
function httpPortHint(err: unknown, httpFd: number | undefined, port: number | undefined): unknown {
  const name = process.env['SVC_INSTANCE_NAME'];
  const code = (err as { cause?: { code?: unknown } }).cause?.code;
  if (!(err instanceof ConfigError) || code !== 'EADDRINUSE') return err;
  if (httpFd !== undefined || process.env['SVC_NODE'] !== '1' || !name) return err;
  return new ConfigError(
    `${err.message}; under svc node, give ${name} a socket in .svc.yml (sockets: { ${name}: { port: ${port ?? 'N'} } }): every process of it, and a restart's new one, then shares the port`,
    { cause: err.cause },
  );
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
