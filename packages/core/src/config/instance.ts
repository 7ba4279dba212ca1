import { parseLimits, type Limits } from '../limits.js';
import { resolve } from 'node:path';
import { isWildcard, resolveAdvertise } from '../advertise.js';
import { schemeOf } from '../backends.js';
import { ConfigError } from '../errors.js';
import { isLogLevel, type LogCalls, type LogLevel } from '../log/logger.js';
import type { TracingConfig } from '../tracing/tracer.js';
import { ConfigReader, readYaml } from './load.js';

/** One service listed under `interfaces:`. */
export interface InterfaceConfig {
  name: string;
  /** `path/to/file.ts#Export` or `package#Export`, relative to the config file */
  class: string;
  maxWorkers?: number;
  /** the whole section, custom keys included (for `config.get` and `config.getInstance`) */
  options: Record<string, unknown>;
}

/** The `security:` section: the cluster's secret, for clusters that span hosts. */
export interface SecurityConfig {
  /** the secret itself (at least 16 characters; e.g. `${SVC_SECRET}`) */
  secret?: string;
  /** a file holding it (mode 0600), resolved against the config's folder */
  secretFile?: string;
}

/** The resolved config of one `svc instance`. */
export interface InstanceConfig {
  /** absolute path of the file, or `<inline>` */
  file: string;
  /** folder that relative paths are resolved against */
  dir: string;
  cluster: string;
  registry: string;
  rpc: string;
  events: string;
  /** address RPC, local events and the log stream bind to (`bind_host`, `SVC_BIND_HOST`) */
  bindHost: string;
  /** address published for them in the registry (`advertise_host`, `SVC_ADVERTISE_HOST`) */
  advertiseHost: string;
  /** RPC on `net` over TLS-PSK keyed by the cluster secret (`rpc_tls`, `SVC_RPC_TLS`) */
  rpcTls: boolean;
  /** reach `net` peers on this host by unix socket, and serve one (`rpc_unix`, `SVC_RPC_UNIX`; default true) */
  rpcUnix: boolean;
  /**
   * Where the cluster's secret comes from (`security:`); absent: from
   * `SVC_SECRET` / `SVC_SECRET_FILE`, else this user's file for the cluster.
   */
  security?: SecurityConfig;
  /** `advertise`: the host published in the HTTP URL (default: `host`, or `advertiseHost` for a wildcard) */
  http: { port?: number; host: string; advertise?: string; trustTraceHeader: boolean };
  /** the port of `/metrics`, `/healthz` and `/readyz`; none unless configured (or `SVC_METRICS_PORT`) */
  metrics: { port?: number; host: string };
  log: {
    level: LogLevel;
    /**
     * Where each worker's outcome record (`rpc Greeting.greet ok`, with its
     * duration) goes: `history` (the default) keeps it in the instance's
     * history and log stream (`svc tail`, `svc tail --trace`, the dashboard)
     * without printing it; `output` prints it too. Failures are always printed.
     */
    calls?: LogCalls;
  };
  /** span export (OTLP); OTEL_ variables can turn it on too */
  tracing: TracingConfig;
  maxWorkers: number;
  /** milliseconds a graceful stop waits for running workers */
  stopTimeout: number;
  /** milliseconds an outgoing call waits by default */
  rpcTimeout: number;
  /** `module#Export` specs of plugins */
  plugins: string[];
  /** what bounds memory and sockets against hostile or stuck peers (`limits:`) */
  limits: Limits;
  /**
   * Ways into the running process, each off unless set: `shell` answers
   * `svc.eval` (`svc shell --instance`), `inspector` answers `svc.debug`
   * (`svc debug`, the Node.js inspector on 127.0.0.1).
   */
  debug: DebugConfig;
  interfaces: InterfaceConfig[];
  /** the whole document after substitution */
  raw: Record<string, unknown>;
}

/** The `debug:` section of an instance config. */
export interface DebugConfig {
  shell: boolean;
  inspector: boolean;
}

const TOP_KEYS = [
  'cluster',
  'registry',
  'rpc',
  'events',
  'bind_host',
  'advertise_host',
  'rpc_tls',
  'rpc_unix',
  'security',
  'http',
  'metrics',
  'log',
  'tracing',
  'max_workers',
  'stop_timeout',
  'rpc_timeout',
  'plugins',
  'debug',
  'interfaces',
  'limits',
] as const;

/** The embedded defaults: no broker, no registry server. */
export const DEFAULT_BACKENDS = { registry: 'local', rpc: 'net', events: 'local' } as const;

/** Reads and checks an instance config file (`conf/greeting.yml`). */
export function loadInstanceConfig(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): InstanceConfig {
  const reader = new ConfigReader(file);
  return parseInstanceConfig(readYaml(reader.file, env), reader, env);
}

/** Checks an already-parsed config document. */
export function parseInstanceConfig(
  doc: unknown,
  reader: ConfigReader,
  env: NodeJS.ProcessEnv = process.env,
): InstanceConfig {
  const top = reader.object(doc, '');
  reader.onlyKeys(top, '', TOP_KEYS);
  const http = reader.object(top['http'], 'http');
  reader.onlyKeys(http, 'http', ['port', 'host', 'advertise', 'trust_trace_header']);
  const metrics = reader.object(top['metrics'], 'metrics');
  reader.onlyKeys(metrics, 'metrics', ['port', 'host']);
  const log = reader.object(top['log'], 'log');
  reader.onlyKeys(log, 'log', ['level', 'calls']);
  const level = log['level'] ?? env['SVC_LOG_LEVEL'] ?? 'info';
  if (!isLogLevel(level)) reader.fail('log.level', 'one of debug, info, warn, error', level);
  const calls = log['calls'] ?? env['SVC_LOG_CALLS'] ?? 'history';
  if (calls !== 'history' && calls !== 'output') {
    reader.fail('log.calls', 'history (kept for svc tail, not printed) or output', calls);
  }
  const tracingDoc = reader.object(top['tracing'], 'tracing');
  reader.onlyKeys(tracingDoc, 'tracing', ['otlp', 'protocol']);
  const tracing: TracingConfig = {};
  const otlp = tracingDoc['otlp'];
  if (otlp !== undefined && otlp !== null) {
    if (typeof otlp !== 'boolean' && (typeof otlp !== 'string' || !/^https?:\/\/./.test(otlp)))
      reader.fail('tracing.otlp', 'an http(s) URL of an OTLP/HTTP endpoint, or true/false', otlp);
    tracing.otlp = otlp;
  }
  const protocol = tracingDoc['protocol'];
  if (protocol !== undefined && protocol !== null) {
    if (protocol !== 'http/protobuf' && protocol !== 'http/json')
      reader.fail('tracing.protocol', 'http/protobuf or http/json', protocol);
    tracing.protocol = protocol;
  }
  const debug = reader.object(top['debug'], 'debug');
  reader.onlyKeys(debug, 'debug', ['shell', 'inspector']);
  const plugins = top['plugins'] ?? [];
  if (!Array.isArray(plugins)) reader.fail('plugins', 'a list of "module#Export" strings', plugins);

  const interfacesDoc = reader.object(top['interfaces'], 'interfaces');
  const interfaces: InterfaceConfig[] = Object.entries(interfacesDoc).map(([name, section]) => {
    const path = `interfaces.${name}`;
    const s = reader.object(section, path);
    if (s['class'] === undefined || s['class'] === null) {
      // Other keys of the section are the service's own settings, so a misspelled `class:`
      // is not an unknown key: show what the section holds.
      const others = Object.keys(s).filter((k) => k !== 'class');
      const holds =
        others.length === 0
          ? ''
          : `; the section has ${others.join(', ')}, read as the service's own settings`;
      throw new ConfigError(
        `${reader.file}: ${path}.class: missing: the service's class, as "module#Export" (like ../services/greeting.ts#Greeting)${holds}`,
      );
    }
    const cls = reader.string(s['class'], `${path}.class`);
    if (!cls.includes('#')) reader.fail(`${path}.class`, 'a "module#Export" reference', cls);
    // Every other key is the service's own setting, so a misspelled `max_workers` would be one
    // too, and silently change nothing.
    const lookalike = Object.keys(s).find((k) => k !== 'max_workers' && nearMaxWorkers(k));
    if (lookalike !== undefined)
      throw new ConfigError(
        `${reader.file}: ${path}.${lookalike}: did you mean max_workers? (the section's other keys are the service's own settings, so this one would change nothing)`,
      );
    const maxWorkers = reader.optionalInteger(s['max_workers'], `${path}.max_workers`, 1, 10_000);
    return { name, class: cls, ...(maxWorkers === undefined ? {} : { maxWorkers }), options: s };
  });
  if (interfaces.length === 0)
    reader.fail(
      'interfaces',
      'at least one service, e.g. "Greeting: { class: ../services/greeting.ts#Greeting }"',
    );

  const port = reader.optionalInteger(http['port'], 'http.port', 0, 65535);
  // The environment wins over the file for addresses: one config file serves every host,
  // and each host says its own address (SVC_ADVERTISE_HOST=10.0.0.5).
  const fromEnv = (name: string) =>
    env[name] === undefined || env[name] === '' ? undefined : env[name];
  const bindHost = reader.string(
    fromEnv('SVC_BIND_HOST') ?? top['bind_host'],
    'bind_host',
    '127.0.0.1',
  );
  const advertised =
    fromEnv('SVC_ADVERTISE_HOST') ??
    (top['advertise_host'] === undefined
      ? undefined
      : reader.string(top['advertise_host'], 'advertise_host'));
  let advertiseHost: string;
  try {
    advertiseHost = resolveAdvertise(bindHost, advertised);
  } catch (err) {
    throw new ConfigError(`${reader.file}: ${(err as Error).message}`);
  }
  const httpHost = reader.string(
    fromEnv('SVC_HTTP_HOST') ?? http['host'],
    'http.host',
    '127.0.0.1',
  );
  const httpAdvertise =
    fromEnv('SVC_HTTP_ADVERTISE') ??
    (http['advertise'] === undefined
      ? undefined
      : reader.string(http['advertise'], 'http.advertise'));
  // A switch of the file that its environment variable overrides (1, 0, true or false).
  const onOff = (key: string, envName: string, fallback: boolean): boolean => {
    const value = fromEnv(envName);
    if (value === undefined) return reader.boolean(top[key], key, fallback);
    if (!['0', '1', 'true', 'false'].includes(value))
      reader.fail(`${key} (${envName})`, '1, 0, true or false', value);
    return value === '1' || value === 'true';
  };
  const rpcTls = onOff('rpc_tls', 'SVC_RPC_TLS', false);
  const rpcUnix = onOff('rpc_unix', 'SVC_RPC_UNIX', true);
  const rpc = reader.string(top['rpc'], 'rpc', DEFAULT_BACKENDS.rpc);
  // zmq is encrypted by CURVE and RabbitMQ by amqps://: a TLS switch there would promise nothing.
  if (rpcTls && schemeOf(rpc) !== 'net')
    reader.fail('rpc_tls (SVC_RPC_TLS)', `false with rpc "${rpc}" (TLS is for rpc: net)`, true);
  const securityDoc = reader.object(top['security'], 'security');
  reader.onlyKeys(securityDoc, 'security', ['secret', 'secret_file']);
  const security: SecurityConfig = {};
  if (securityDoc['secret'] !== undefined) {
    security.secret = reader.string(securityDoc['secret'], 'security.secret');
  }
  if (securityDoc['secret_file'] !== undefined) {
    security.secretFile = resolve(
      reader.dir,
      reader.string(securityDoc['secret_file'], 'security.secret_file'),
    );
  }
  const metricsPort = reader.optionalInteger(
    metrics['port'] ?? (env['SVC_METRICS_PORT'] || undefined),
    metrics['port'] === undefined ? 'SVC_METRICS_PORT' : 'metrics.port',
    0,
    65535,
  );
  return {
    file: reader.file,
    dir: reader.dir,
    cluster: reader.string(top['cluster'] ?? env['SVC_CLUSTER'], 'cluster', 'default'),
    registry: reader.string(top['registry'], 'registry', DEFAULT_BACKENDS.registry),
    rpc,
    events: reader.string(top['events'], 'events', DEFAULT_BACKENDS.events),
    bindHost,
    advertiseHost,
    rpcTls,
    rpcUnix,
    ...(Object.keys(security).length > 0 ? { security } : {}),
    http: {
      ...(port === undefined ? {} : { port }),
      host: httpHost,
      // A wildcard HTTP bind is common (a load balancer in front): its URL, shown by
      // `svc discover` and the dashboard, names the host's advertised address.
      ...(httpAdvertise !== undefined
        ? { advertise: httpAdvertise }
        : isWildcard(httpHost)
          ? { advertise: advertiseHost }
          : {}),
      trustTraceHeader: reader.boolean(
        http['trust_trace_header'],
        'http.trust_trace_header',
        false,
      ),
    },
    metrics: {
      ...(metricsPort === undefined ? {} : { port: metricsPort }),
      host: reader.string(metrics['host'], 'metrics.host', '127.0.0.1'),
    },
    log: { level, calls },
    tracing,
    maxWorkers: reader.integer(top['max_workers'], 'max_workers', 10, 1, 10_000),
    stopTimeout: reader.integer(top['stop_timeout'], 'stop_timeout', 10_000, 0, 3_600_000),
    rpcTimeout: reader.integer(top['rpc_timeout'], 'rpc_timeout', 5_000, 1, 3_600_000),
    plugins: plugins.map((p, i) => reader.string(p, `plugins[${i}]`)),
    limits: parseLimits(reader, top['limits']),
    debug: {
      shell: reader.boolean(debug['shell'], 'debug.shell', false),
      inspector: reader.boolean(debug['inspector'], 'debug.inspector', false),
    },
    interfaces,
    raw: top,
  };
}

/**
 * Whether `key` is `max_workers` as typed by mistake: another case or
 * separator (`maxWorkers`, `max-workers`), one letter off, or two swapped.
 */
function nearMaxWorkers(key: string): boolean {
  const a = key.toLowerCase().replace(/[_-]/g, '');
  const b = 'maxworkers';
  if (Math.abs(a.length - b.length) > 1) return false;
  // One edit at most: skip the common prefix and suffix, and what is left differs by one letter.
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  let j = 0;
  while (j < a.length - i && j < b.length - i && a[a.length - 1 - j] === b[b.length - 1 - j]) j++;
  const restA = a.slice(i, a.length - j);
  const restB = b.slice(i, b.length - j);
  if (restA.length <= 1 && restB.length <= 1) return true;
  // Two letters swapped (`max_workres`).
  return restA.length === 2 && restA === restB[1]! + restB[0]!;
}
