/**
 * A small schema language for RPC parameters: enough to reject bad
 * parameters with a clear message and to let `svc inspect` describe them.
 *
 *   @rpc({ params: { name: t.string(), times: t.optional(t.integer()) } })
 */
import { REDACTED } from './redact.js';

export interface Schema<T = unknown> {
  /** type as shown by inspect: `string`, `integer`, `string[]`, `{ name: string }` */
  readonly type: string;
  readonly optional: boolean;
  readonly doc?: string;
  /**
   * Problems with `value` at `path`, empty when it is valid. A problem at a
   * path `hidden` names does not show the value (sensitive parameters).
   */
  check(value: unknown, path: string, hidden?: (path: string) => boolean): string[];
  /** carries the TypeScript type only */
  readonly __type?: T;
}

export type Shape = Record<string, Schema>;
export type Infer<S> = S extends Schema<infer T> ? T : never;
type OptionalKeys<S extends Shape> = {
  [K in keyof S]: S[K]['optional'] extends true ? K : never;
}[keyof S];
// An optional parameter may be left out; `undefined` is not a value of it
// (so the type holds under `exactOptionalPropertyTypes` too).
export type InferShape<S extends Shape> = {
  [K in Exclude<keyof S, OptionalKeys<S>>]: Infer<S[K]>;
} & { [K in OptionalKeys<S>]?: Exclude<Infer<S[K]>, undefined> };

function scalar<T>(type: string, test: (v: unknown) => boolean, doc?: string): Schema<T> {
  return {
    type,
    optional: false,
    ...(doc === undefined ? {} : { doc }),
    check: (v, path, hidden) =>
      test(v)
        ? []
        : [`${path || 'parameters'} must be ${article(type)}, got ${shown(v, path, hidden)}`],
  };
}

function article(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** The value as a problem shows it: `********` where the path is sensitive. */
function shown(v: unknown, path: string, hidden: ((path: string) => boolean) | undefined): string {
  return hidden?.(path) ? REDACTED : describeValue(v);
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string')
    return `the string ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${JSON.stringify(v) ?? ''}`.trim();
}

function objectSchema<S extends Shape>(
  shape: S,
  doc?: string,
): Schema<InferShape<S>> & { shape: S } {
  return {
    type: `{ ${Object.entries(shape)
      .map(([k, s]) => `${k}${s.optional ? '?' : ''}: ${s.type}`)
      .join(', ')} }`,
    optional: false,
    shape,
    ...(doc === undefined ? {} : { doc }),
    check(value, path, hidden) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) {
        return [`${path || 'parameters'} must be an object, got ${shown(value, path, hidden)}`];
      }
      const obj = value as Record<string, unknown>;
      const problems: string[] = [];
      for (const [key, schema] of Object.entries(shape)) {
        const v = Object.hasOwn(obj, key) ? obj[key] : undefined;
        if (v === undefined) {
          if (!schema.optional) problems.push(`${join(path, key)} is required`);
          continue;
        }
        problems.push(...schema.check(v, join(path, key), hidden));
      }
      for (const key of Object.keys(obj)) {
        if (!Object.hasOwn(shape, key))
          problems.push(`${join(path, key)} is not a known parameter`);
      }
      return problems;
    },
  };
}

function join(path: string, key: string): string {
  return path ? `${path}.${key}` : key;
}

/** Schema builders. */
export const t = {
  string: (doc?: string) => scalar<string>('string', (v) => typeof v === 'string', doc),
  number: (doc?: string) =>
    scalar<number>('number', (v) => typeof v === 'number' && Number.isFinite(v), doc),
  integer: (doc?: string) => scalar<number>('integer', (v) => Number.isInteger(v), doc),
  boolean: (doc?: string) => scalar<boolean>('boolean', (v) => typeof v === 'boolean', doc),
  any: (doc?: string) => scalar<unknown>('any', () => true, doc),
  literal: <const V extends string | number | boolean>(...values: V[]) =>
    scalar<V>(values.map((v) => JSON.stringify(v)).join(' | '), (v) => values.includes(v as V)),
  array: <T>(item: Schema<T>, doc?: string): Schema<T[]> => ({
    type: `${item.type}[]`,
    optional: false,
    ...(doc === undefined ? {} : { doc }),
    check: (v, path, hidden) =>
      Array.isArray(v)
        ? v.flatMap((x, i) => item.check(x, `${path}[${i}]`, hidden))
        : [`${path || 'parameters'} must be an array, got ${shown(v, path, hidden)}`],
  }),
  object: objectSchema,
  optional: <T>(schema: Schema<T>): Schema<T | undefined> & { optional: true } => ({
    ...schema,
    optional: true,
    check: (v, path, hidden) => schema.check(v, path, hidden),
  }),
};

/** An object schema of a shape, or the `t.object` schema itself. */
export function toObjectSchema(
  params: Shape | (Schema & { shape: Shape }),
): Schema & { shape: Shape } {
  return isSchema(params) ? params : objectSchema(params);
}

function isSchema(v: unknown): v is Schema & { shape: Shape } {
  return (
    typeof v === 'object' && v !== null && typeof (v as Schema).check === 'function' && 'shape' in v
  );
}
