import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigError } from '../errors.js';
import { markWholeSubstitutions, substituteEnv } from './substitute.js';

/**
 * Reads a YAML file, substitutes environment variables and returns the
 * document's value. An unquoted value that is wholly one `${VAR}` is read
 * again as YAML once substituted (`${N:-3}` is the number 3).
 */
export function readYaml(file: string, env: NodeJS.ProcessEnv = process.env): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(
      code === 'ENOENT'
        ? `config file ${file} does not exist`
        : `cannot read config file ${file}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    throw new ConfigError(`${file}: invalid YAML: ${first.message.split('\n')[0]}`);
  }
  markWholeSubstitutions(doc);
  return substituteEnv(doc.toJS({ maxAliasCount: 100 }), env, { file, path: '' });
}

/** Checks a config value and explains what was expected: a tiny validator with good messages. */
export class ConfigReader {
  readonly file: string;
  readonly dir: string;

  constructor(file: string) {
    this.file = resolve(file);
    this.dir = dirname(this.file);
  }

  fail(path: string, expected: string, got?: unknown): never {
    const gotText = got === undefined ? '' : `, got ${describe(got)}`;
    throw new ConfigError(`${this.file}: ${path || '(top level)'}: expected ${expected}${gotText}`);
  }

  object(value: unknown, path: string): Record<string, unknown> {
    if (value === null || value === undefined) return {};
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(path, 'a mapping', value);
    return value as Record<string, unknown>;
  }

  onlyKeys(obj: Record<string, unknown>, path: string, allowed: readonly string[]): void {
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) {
        throw new ConfigError(
          `${this.file}: ${path ? `${path}.` : ''}${key}: unknown key (expected one of: ${allowed.join(', ')})`,
        );
      }
    }
  }

  string(value: unknown, path: string, fallback?: string): string {
    if (value === undefined || value === null) {
      if (fallback !== undefined) return fallback;
      this.fail(path, 'a string');
    }
    if (typeof value !== 'string' || value === '') this.fail(path, 'a non-empty string', value);
    return value;
  }

  integer(
    value: unknown,
    path: string,
    fallback: number,
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
  ): number {
    if (value === undefined || value === null) return fallback;
    const n = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < min || n > max) {
      this.fail(path, `an integer from ${min} to ${max}`, value);
    }
    return n;
  }

  optionalInteger(
    value: unknown,
    path: string,
    min = 0,
    max = Number.MAX_SAFE_INTEGER,
  ): number | undefined {
    return value === undefined || value === null
      ? undefined
      : this.integer(value, path, 0, min, max);
  }

  boolean(value: unknown, path: string, fallback: boolean): boolean {
    if (value === undefined || value === null) return fallback;
    if (value === true || value === 'true') return true;
    if (value === false || value === 'false') return false;
    return this.fail(path, 'true or false', value);
  }
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  return `${typeof v} ${JSON.stringify(v)}`;
}
