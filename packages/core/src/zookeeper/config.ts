import { ConfigError, UsageError } from '../errors.js';
import { parseJsonSafe } from '../serializers/json.js';
import type { InstanceRecord } from '../registry/registry.js';

/** What a `zookeeper://` registry URL says. */
export interface ZooKeeperConfig {
  /** `host:port,host:port`, as the client library takes it */
  connectString: string;
  /** root path, never `/` itself, without a trailing slash */
  root: string;
  /** ZooKeeper session timeout: how long a dead instance stays visible */
  sessionTimeoutMs: number;
  /** how long a call waits for ZooKeeper (during an outage, say) before it fails */
  timeoutMs: number;
  /** how long opening the registry waits for a first connection */
  connectTimeoutMs: number;
  /**
   * `user:password` of ZooKeeper's digest scheme, from the URL
   * (`zookeeper://user:password@host/root`): nodes are then created with an
   * ACL that lets only that identity change them (everyone may read)
   */
  digest?: string;
}

const DEFAULT_ROOT = '/svc';
const DEFAULT_PORT = 2181;
const DEFAULT_SESSION_TIMEOUT_MS = 10_000;
const DEFAULT_TIMEOUT_MS = 10_000;

/**
 * Parses `zookeeper://host:port[,host:port]/root[?sessionTimeout=ms&timeout=ms&connectTimeout=ms]`.
 * Throws a ConfigError naming what is wrong.
 */
export function parseZooKeeperUrl(rawUrl: string): ZooKeeperConfig {
  // Messages show the URL without its password.
  const url = rawUrl.replace(/^(zookeeper:\/\/)[^/?#]*@/i, '$1***@');
  const m = /^zookeeper:\/\/([^/?#]*)([^?#]*)(?:\?([^#]*))?$/i.exec(rawUrl);
  if (!m) throw new ConfigError(`bad ZooKeeper URL "${url}": expected zookeeper://host:port/root`);
  let authority = m[1] ?? '';
  let digest: string | undefined;
  const at = authority.lastIndexOf('@');
  if (at >= 0) {
    const userinfo = authority.slice(0, at);
    authority = authority.slice(at + 1);
    const colon = userinfo.indexOf(':');
    if (colon <= 0 || colon === userinfo.length - 1) {
      throw new ConfigError(
        'bad ZooKeeper URL: credentials must be user:password@ (the digest scheme)',
      );
    }
    try {
      digest = `${decodeURIComponent(userinfo.slice(0, colon))}:${decodeURIComponent(userinfo.slice(colon + 1))}`;
    } catch {
      throw new ConfigError('bad ZooKeeper URL: credentials are not valid percent-encoding');
    }
  }
  const hosts = authority.split(',').map((h) => parseHost(h.trim(), url));
  if (hosts.length === 0) throw new ConfigError(`bad ZooKeeper URL "${url}": no host`);
  const root = parseRoot(m[2] ?? '', url);
  const config: ZooKeeperConfig = {
    connectString: hosts.join(','),
    root,
    sessionTimeoutMs: DEFAULT_SESSION_TIMEOUT_MS,
    timeoutMs: DEFAULT_TIMEOUT_MS,
    connectTimeoutMs: DEFAULT_TIMEOUT_MS,
    ...(digest === undefined ? {} : { digest }),
  };
  for (const [key, value] of new URLSearchParams(m[3] ?? '')) {
    if (key === 'sessionTimeout') config.sessionTimeoutMs = parseMs(key, value, url);
    else if (key === 'timeout') config.timeoutMs = parseMs(key, value, url);
    else if (key === 'connectTimeout') config.connectTimeoutMs = parseMs(key, value, url);
    else
      throw new ConfigError(
        `bad ZooKeeper URL "${url}": unknown option "${key}" (expected sessionTimeout, timeout or connectTimeout)`,
      );
  }
  return config;
}

function parseHost(hostPort: string, url: string): string {
  const m = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i.exec(hostPort);
  const port = m?.[2] === undefined ? DEFAULT_PORT : Number(m[2]);
  if (!m || port < 1 || port > 65535)
    throw new ConfigError(`bad ZooKeeper URL "${url}": "${hostPort}" is not host:port`);
  return `${m[1]!}:${port}`;
}

function parseRoot(path: string, url: string): string {
  const segments = path.split('/').filter((s) => s !== '');
  if (segments.length === 0) return DEFAULT_ROOT;
  for (const s of segments) {
    if (!isNodeName(s))
      throw new ConfigError(`bad ZooKeeper URL "${url}": "${s}" is not a valid node name`);
  }
  return segments.map((s) => `/${s}`).join('');
}

function parseMs(key: string, value: string, url: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 600_000)
    throw new ConfigError(
      `bad ZooKeeper URL "${url}": ${key} must be milliseconds between 100 and 600000`,
    );
  return n;
}

/** A node name ZooKeeper accepts and that cannot climb the tree. */
export function isNodeName(s: string): boolean {
  if (s.length === 0 || s.length > 255 || s === '.' || s === '..' || s.includes('/')) return false;
  // ZooKeeper refuses control characters in paths.
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f) return false;
  }
  return true;
}

/** Throws a UsageError when a service name or instance id cannot be a node name. */
export function checkNodeName(what: string, s: string): void {
  if (!isNodeName(s))
    throw new UsageError(`${what} "${s}" cannot be used as a ZooKeeper node name`);
}

/** Where the nodes of one registry live. */
export class ZooKeeperPaths {
  constructor(readonly root: string) {}
  get services(): string {
    return `${this.root}/services`;
  }
  service(service: string): string {
    return `${this.services}/${service}`;
  }
  instance(service: string, id: string): string {
    return `${this.service(service)}/${id}`;
  }
}

const MODES: readonly unknown[] = ['pool', 'broadcast', 'singleton'];

function isSubscription(v: unknown): boolean {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const s = v as Record<string, unknown>;
  return (
    typeof s.type === 'string' &&
    typeof s.handler === 'string' &&
    MODES.includes(s.mode) &&
    (s.source === undefined || typeof s.source === 'string')
  );
}

function isStringMap(v: unknown): v is Record<string, string> {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    Object.values(v).every((x) => typeof x === 'string')
  );
}

/**
 * Decodes a node's data into an instance record, or undefined when it is not
 * one (bad JSON, wrong shape, or a record that names another node): another
 * program may write anything under our root, and none of it may crash us.
 */
export function decodeRecord(
  data: Buffer | undefined,
  service: string,
  id: string,
): InstanceRecord | undefined {
  if (!data || data.length === 0) return undefined;
  let value: unknown;
  try {
    value = parseJsonSafe(data.toString('utf8'));
  } catch {
    return undefined;
  }
  return recordOf(value, service, id);
}

/** `value` (parsed from a node's data) when it is the instance record of that node. */
export function recordOf(value: unknown, service: string, id: string): InstanceRecord | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const r = value as Partial<Record<keyof InstanceRecord, unknown>>;
  const ok =
    r.id === id &&
    r.service === service &&
    typeof r.host === 'string' &&
    typeof r.pid === 'number' &&
    typeof r.startedAt === 'number' &&
    isStringMap(r.endpoints) &&
    Array.isArray(r.subscriptions) &&
    r.subscriptions.every(isSubscription) &&
    (r.version === undefined || typeof r.version === 'string') &&
    (r.metadata === undefined ||
      (typeof r.metadata === 'object' && r.metadata !== null && !Array.isArray(r.metadata)));
  return ok ? (value as InstanceRecord) : undefined;
}
