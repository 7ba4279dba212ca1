import { readFileSync, statSync } from 'node:fs';
import { isIP } from 'node:net';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '@svc/core';
import { isMap, isScalar, parseDocument } from 'yaml';
import { parseCommand, type ParsedCommand } from './command.js';

/** One entry under `instances:` of `.svc.yml`. */
export interface InstanceConfig {
  name: string;
  /** the command line as written (after `${VAR}` substitution) */
  command: string;
  /** how it runs: split into argv, or through `sh -c` */
  parsed: ParsedCommand;
  numprocesses: number;
  env: Record<string, string>;
  /** absolute working folder (the config file's folder unless `cwd:` says otherwise) */
  cwd: string;
}

/** One entry under `sockets:`: a TCP port shared by every process of the instance of that name. */
export interface SocketConfig {
  name: string;
  port: number;
  host: string;
}

/** `metrics:` of `.svc.yml`: where `svc node` serves the whole cluster's /metrics. */
export interface NodeMetricsConfig {
  port: number;
  host: string;
}

/** A parsed, validated `.svc.yml`. */
export interface NodeConfig {
  /** absolute path of the file */
  file: string;
  instances: InstanceConfig[];
  sockets: SocketConfig[];
  /** absent: no metrics port */
  metrics?: NodeMetricsConfig;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

class Reader {
  constructor(
    readonly file: string,
    readonly env: NodeJS.ProcessEnv,
  ) {}

  fail(path: string, expected: string, got?: unknown): never {
    const shown = got === undefined ? '' : `, got ${describe(got)}`;
    throw new ConfigError(`${this.file}: ${path}: ${expected}${shown}`);
  }

  mapping(value: unknown, path: string): Record<string, unknown> {
    if (value === null || typeof value !== 'object' || Array.isArray(value)) {
      this.fail(path, 'expected a mapping', value);
    }
    return value as Record<string, unknown>;
  }

  onlyKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        this.fail(
          `${path}${path ? '.' : ''}${key}`,
          `unknown key (expected one of: ${allowed.join(', ')})`,
        );
      }
    }
  }

  /** `${VAR}` and `${VAR:-default}` from the environment; `$${` stays a literal `${`. */
  substitute(value: string, path: string): string {
    return value.replace(/\$(\$?)\{([^}]*)\}/g, (whole, escaped: string, inner: string) => {
      if (escaped) return whole.slice(1);
      const m = /^([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?$/s.exec(inner);
      if (!m) this.fail(path, `expected \${VAR} or \${VAR:-default}`, whole);
      const name = m[1] as string;
      const current = this.env[name];
      if (current !== undefined && current !== '') return current;
      if (m[2] !== undefined) return m[2];
      return this.fail(
        path,
        `environment variable ${name} is not set (write \${${name}:-default})`,
      );
    });
  }

  string(value: unknown, path: string): string {
    if (typeof value !== 'string') this.fail(path, 'expected a string', value);
    return this.substitute(value, path);
  }

  integer(value: unknown, path: string, min: number, max: number): number {
    let n = value;
    if (typeof n === 'string') {
      const text = this.substitute(n, path).trim();
      n = /^\d+$/.test(text) ? Number(text) : text;
    }
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(path, `expected an integer from ${min} to ${max}`, n);
    }
    return n;
  }
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/**
 * Reads and validates a `.svc.yml`. Every mistake is a {@link ConfigError}
 * whose one-line message names the file, the key path and what was expected.
 */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): NodeConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(`${abs}: cannot read the file (${code})`, { cause: err });
  }
  return parseConfig(text, abs, env);
}

/** Validates the text of a `.svc.yml` whose absolute path is `file` (used in messages and for `cwd`). */
export function parseConfig(
  text: string,
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): NodeConfig {
  const doc = parseDocument(text);
  const first = doc.errors[0];
  if (first) {
    // yaml's first message line reads "<what> at line L, column C:"; the rest is a code excerpt.
    const line = (first.message.split('\n')[0] ?? 'invalid YAML').replace(/:$/, '');
    throw new ConfigError(`${file}: invalid YAML: ${line}`);
  }
  if (doc.contents !== null && !isMap(doc.contents) && !isScalar(doc.contents)) {
    throw new ConfigError(`${file}: (top level): expected a mapping with "instances:"`);
  }
  const r = new Reader(file, env);
  const top = r.mapping(doc.toJS() ?? null, '(top level)');
  r.onlyKeys(top, '', ['instances', 'sockets', 'metrics']);
  if (top.instances === undefined)
    r.fail('instances', 'missing: expected a mapping of instance names to { command, ... }');
  const rawInstances = r.mapping(top.instances, 'instances');
  const names = Object.keys(rawInstances);
  if (names.length === 0) r.fail('instances', 'expected at least one instance');
  const dir = dirname(file);

  const instances = names.map((name): InstanceConfig => {
    const path = `instances.${name}`;
    if (!NAME.test(name)) r.fail(path, 'expected a name of letters, digits, "_", "." or "-"');
    const raw = r.mapping(rawInstances[name], path);
    r.onlyKeys(raw, path, ['command', 'numprocesses', 'env', 'cwd']);
    if (raw.command === undefined)
      r.fail(`${path}.command`, 'missing: expected the command line to run');
    const command = r.string(raw.command, `${path}.command`);
    let parsed: ParsedCommand;
    try {
      parsed = parseCommand(command);
    } catch (err) {
      return r.fail(`${path}.command`, `expected a command line (${(err as Error).message})`);
    }
    const numprocesses =
      raw.numprocesses === undefined
        ? 1
        : r.integer(raw.numprocesses, `${path}.numprocesses`, 1, 1024);
    const envOut: Record<string, string> = {};
    if (raw.env !== undefined) {
      const e = r.mapping(raw.env, `${path}.env`);
      for (const [k, v] of Object.entries(e)) {
        const p = `${path}.env.${k}`;
        if (typeof v === 'number' || typeof v === 'boolean') envOut[k] = String(v);
        else envOut[k] = r.string(v, p);
      }
    }
    let cwd = dir;
    if (raw.cwd !== undefined) {
      cwd = resolve(dir, r.string(raw.cwd, `${path}.cwd`));
      let isDir = false;
      try {
        isDir = statSync(cwd).isDirectory();
      } catch {
        isDir = false;
      }
      if (!isDir)
        r.fail(`${path}.cwd`, `expected an existing folder (relative to ${dir})`, raw.cwd);
    }
    return { name, command, parsed, numprocesses, env: envOut, cwd };
  });

  const sockets: SocketConfig[] = [];
  if (top.sockets !== undefined && top.sockets !== null) {
    const rawSockets = r.mapping(top.sockets, 'sockets');
    for (const [name, value] of Object.entries(rawSockets)) {
      const path = `sockets.${name}`;
      if (!names.includes(name))
        r.fail(path, `expected the name of an instance (${names.join(', ')})`);
      const raw = r.mapping(value, path);
      r.onlyKeys(raw, path, ['port', 'host']);
      if (raw.port === undefined) r.fail(`${path}.port`, 'missing: expected a TCP port');
      const port = r.integer(raw.port, `${path}.port`, 0, 65535);
      const host = raw.host === undefined ? '127.0.0.1' : r.string(raw.host, `${path}.host`);
      if (isIP(host) === 0)
        r.fail(`${path}.host`, 'expected an IP address (127.0.0.1, 0.0.0.0, ::1)', host);
      sockets.push({ name, port, host });
    }
  }
  let metrics: NodeMetricsConfig | undefined;
  if (top.metrics !== undefined && top.metrics !== null) {
    const raw = r.mapping(top.metrics, 'metrics');
    r.onlyKeys(raw, 'metrics', ['port', 'host']);
    if (raw.port === undefined) r.fail('metrics.port', 'missing: expected a TCP port');
    const port = r.integer(raw.port, 'metrics.port', 0, 65535);
    const host = raw.host === undefined ? '127.0.0.1' : r.string(raw.host, 'metrics.host');
    if (isIP(host) === 0)
      r.fail('metrics.host', 'expected an IP address (127.0.0.1, 0.0.0.0, ::1)', host);
    metrics = { port, host };
  }
  return { file, instances, sockets, ...(metrics ? { metrics } : {}) };
}
