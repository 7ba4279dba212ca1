import { parseLimits, type Limits } from '../limits.js';
import { isLogLevel, type LogLevel } from '../log/logger.js';
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
  bindHost: string;
  http: { port?: number; host: string; trustTraceHeader: boolean };
  log: { level: LogLevel };
  maxWorkers: number;
  /** milliseconds a graceful stop waits for running workers */
  stopTimeout: number;
  /** milliseconds an outgoing call waits by default */
  rpcTimeout: number;
  /** `module#Export` specs of plugins */
  plugins: string[];
  /** what bounds memory and sockets against hostile or stuck peers (`limits:`) */
  limits: Limits;
  interfaces: InterfaceConfig[];
  /** the whole document after substitution */
  raw: Record<string, unknown>;
}

const TOP_KEYS = [
  'cluster',
  'registry',
  'rpc',
  'events',
  'bind_host',
  'http',
  'log',
  'max_workers',
  'stop_timeout',
  'rpc_timeout',
  'plugins',
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
  reader.onlyKeys(http, 'http', ['port', 'host', 'trust_trace_header']);
  const log = reader.object(top['log'], 'log');
  reader.onlyKeys(log, 'log', ['level']);
  const level = log['level'] ?? env['SVC_LOG_LEVEL'] ?? 'info';
  if (!isLogLevel(level)) reader.fail('log.level', 'one of debug, info, warn, error', level);
  const plugins = top['plugins'] ?? [];
  if (!Array.isArray(plugins)) reader.fail('plugins', 'a list of "module#Export" strings', plugins);

  const interfacesDoc = reader.object(top['interfaces'], 'interfaces');
  const interfaces: InterfaceConfig[] = Object.entries(interfacesDoc).map(([name, section]) => {
    const path = `interfaces.${name}`;
    const s = reader.object(section, path);
    const cls = reader.string(s['class'], `${path}.class`);
    if (!cls.includes('#')) reader.fail(`${path}.class`, 'a "module#Export" reference', cls);
    const maxWorkers = reader.optionalInteger(s['max_workers'], `${path}.max_workers`, 1, 10_000);
    return { name, class: cls, ...(maxWorkers === undefined ? {} : { maxWorkers }), options: s };
  });
  if (interfaces.length === 0)
    reader.fail(
      'interfaces',
      'at least one service, e.g. "Greeting: { class: ../services/greeting.ts#Greeting }"',
    );

  const port = reader.optionalInteger(http['port'], 'http.port', 0, 65535);
  return {
    file: reader.file,
    dir: reader.dir,
    cluster: reader.string(top['cluster'] ?? env['SVC_CLUSTER'], 'cluster', 'default'),
    registry: reader.string(top['registry'], 'registry', DEFAULT_BACKENDS.registry),
    rpc: reader.string(top['rpc'], 'rpc', DEFAULT_BACKENDS.rpc),
    events: reader.string(top['events'], 'events', DEFAULT_BACKENDS.events),
    bindHost: reader.string(top['bind_host'], 'bind_host', '127.0.0.1'),
    http: {
      ...(port === undefined ? {} : { port }),
      host: reader.string(http['host'], 'http.host', '127.0.0.1'),
      trustTraceHeader: reader.boolean(
        http['trust_trace_header'],
        'http.trust_trace_header',
        false,
      ),
    },
    log: { level },
    maxWorkers: reader.integer(top['max_workers'], 'max_workers', 10, 1, 10_000),
    stopTimeout: reader.integer(top['stop_timeout'], 'stop_timeout', 10_000, 0, 3_600_000),
    rpcTimeout: reader.integer(top['rpc_timeout'], 'rpc_timeout', 5_000, 1, 3_600_000),
    plugins: plugins.map((p, i) => reader.string(p, `plugins[${i}]`)),
    limits: parseLimits(reader, top['limits']),
    interfaces,
    raw: top,
  };
}
