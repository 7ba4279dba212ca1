// RPC parameter schemas: svc's own `t` shapes, or any Standard Schema V1
// object (zod 4, valibot, arktype...). Each is compiled once, when `@rpc`
// decorates its method, into the checker every call of the method uses.
import { ValidationError } from './errors.js';
import { REDACTED, touchesSensitive } from './redact.js';
import { toObjectSchema, type InferShape, type Schema, type Shape } from './schema.js';
import { isThenable } from './sync.js';

/**
 * The part of Standard Schema V1 (standardschema.dev) svc uses: `validate`,
 * the inferred types, and Standard JSON Schema's `jsonSchema` converter
 * where the library has one (zod 4.2+, arktype, valibot through
 * `@valibot/to-json-schema`'s `toStandardJsonSchema`).
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
    readonly jsonSchema?: {
      readonly input: (options: { readonly target: string }) => Record<string, unknown>;
    };
  };
}

/** A Standard Schema result: the value, or the issues that make it invalid. */
export interface StandardResult<Output> {
  readonly value?: Output;
  readonly issues?:
    | ReadonlyArray<{
        readonly message: string;
        readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined;
      }>
    | undefined;
}

/** A parameters schema: a `t` shape, a `t.object(...)`, or a Standard Schema of an object. */
export type ParamsSchema = Shape | (Schema & { shape: Shape }) | StandardSchema;

/** What a schema accepts from callers. */
export type ParamsInput<P> =
  P extends StandardSchema<infer I, unknown>
    ? I
    : P extends Schema<infer T>
      ? T
      : P extends Shape
        ? InferShape<P>
        : never;

/** What a schema hands the method (a Standard Schema may transform or add defaults). */
export type ParamsOutput<P> =
  P extends StandardSchema<unknown, infer O>
    ? O
    : P extends Schema<infer T>
      ? T
      : P extends Shape
        ? InferShape<P>
        : never;

/** One parameter as `svc inspect` shows it. */
export interface ParamDescription {
  name: string;
  type?: string;
  optional?: boolean;
  doc?: string;
}

/** A schema compiled for one method: the checker of every call and its description. */
export interface CompiledParams {
  /** Parameter names in declared order (for Nameko's positional arguments), when the schema tells them. */
  names(): readonly string[] | undefined;
  /**
   * The parameters the method gets (the schema's output), or a
   * ValidationError naming every problem. A promise only when the schema
   * validates asynchronously: a synchronous one keeps the call synchronous.
   * A problem with a `sensitive` parameter (names or dotted paths) does not
   * show its value.
   */
  validate(
    params: Record<string, unknown>,
    where: string,
    sensitive?: readonly string[],
  ): Record<string, unknown> | Promise<Record<string, unknown>>;
  /** The parameters as `svc inspect` shows them, and the JSON Schema where there is one. */
  describe(): { params: ParamDescription[]; schema?: Record<string, unknown> };
}

/** Whether `value` is a Standard Schema (a `~standard` object of version 1 with `validate`). */
export function isStandardSchema(value: unknown): value is StandardSchema {
  if (typeof value !== 'object' && typeof value !== 'function') return false;
  if (value === null) return false;
  const std = (value as { '~standard'?: unknown })['~standard'];
  return (
    typeof std === 'object' &&
    std !== null &&
    (std as { version?: unknown }).version === 1 &&
    typeof (std as { validate?: unknown }).validate === 'function'
  );
}

/** Compiles a parameters schema, once per method. */
export function compileParams(schema: ParamsSchema): CompiledParams {
  return isStandardSchema(schema) ? compileStandard(schema) : compileShape(schema);
}

function invalid(where: string, problems: string[]): ValidationError {
  return new ValidationError(`invalid parameters for ${where}: ${problems.join('; ')}`, {
    data: { problems },
  });
}

function compileShape(params: Shape | (Schema & { shape: Shape })): CompiledParams {
  const schema = toObjectSchema(params);
  const names = Object.keys(schema.shape);
  const described = Object.entries(schema.shape).map(([name, s]) => ({
    name,
    type: s.type,
    ...(s.optional ? { optional: true } : {}),
    ...(s.doc === undefined ? {} : { doc: s.doc }),
  }));
  return {
    names: () => names,
    validate(value, where, sensitive) {
      const hidden =
        sensitive && sensitive.length > 0
          ? (path: string) => touchesSensitive(shapePath(path), sensitive)
          : undefined;
      const problems = schema.check(value, '', hidden);
      if (problems.length > 0) throw invalid(where, problems);
      return value;
    },
    describe: () => ({ params: described }),
  };
}

function compileStandard(schema: StandardSchema): CompiledParams {
  const std = schema['~standard'];
  // Converted on first use only: inspect and positional calls need it, plain calls never.
  let json: Record<string, unknown> | null | undefined;
  const jsonSchema = (): Record<string, unknown> | null => {
    if (json === undefined) {
      try {
        json = std.jsonSchema?.input({ target: 'draft-2020-12' }) ?? null;
      } catch {
        // The spec allows a converter to refuse a schema it cannot express.
        json = null;
      }
    }
    return json;
  };
  const settle = (
    result: StandardResult<unknown>,
    where: string,
    sensitive: readonly string[] | undefined,
  ): Record<string, unknown> => {
    if (result.issues)
      throw invalid(
        where,
        result.issues.map((i) => issueText(i, sensitive)),
      );
    return result.value as Record<string, unknown>;
  };
  return {
    names() {
      const properties = jsonSchema()?.['properties'];
      return isRecord(properties) ? Object.keys(properties) : undefined;
    },
    validate(value, where, sensitive) {
      const result = std.validate(value);
      return isThenable(result)
        ? Promise.resolve(result).then((r) => settle(r, where, sensitive))
        : settle(result, where, sensitive);
    },
    describe() {
      const json = jsonSchema();
      return json ? { params: describeJsonSchema(json), schema: json } : { params: [] };
    },
  };
}

function issueText(
  issue: NonNullable<StandardResult<unknown>['issues']>[number],
  sensitive: readonly string[] | undefined,
): string {
  const parts = (issue.path ?? []).map((p) =>
    String(typeof p === 'object' && p !== null ? p.key : p),
  );
  const path = parts.join('.');
  // A library's message may quote the value (valibot's does): not for a sensitive one.
  if (sensitive && sensitive.length > 0 && touchesSensitive(parts, sensitive))
    return `${path || 'parameters'}: invalid (${REDACTED}: the message may show the value)`;
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** `cards[0].number` as parts: `['cards', '0', 'number']`. */
function shapePath(path: string): string[] {
  return path
    .replace(/\[(\d+)\]/g, '.$1')
    .split('.')
    .filter((p) => p !== '');
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The parameters of an object's JSON Schema, each with a short type, in declared order. */
export function describeJsonSchema(json: Record<string, unknown>): ParamDescription[] {
  const properties = json['properties'];
  if (!isRecord(properties)) return [];
  const required = Array.isArray(json['required']) ? (json['required'] as unknown[]) : [];
  return Object.entries(properties).map(([name, prop]) => {
    const p = isRecord(prop) ? prop : {};
    const doc = typeof p['description'] === 'string' ? p['description'] : undefined;
    return {
      name,
      type: jsonType(p),
      ...(required.includes(name) ? {} : { optional: true }),
      ...(doc === undefined ? {} : { doc }),
    };
  });
}

/** `string`, `integer[]`, `"a" | "b"`, `string | null`: a JSON Schema as a short type. */
function jsonType(p: Record<string, unknown>, depth = 0): string {
  if (depth > 4) return 'any';
  if ('const' in p) return JSON.stringify(p['const']);
  if (Array.isArray(p['enum'])) return p['enum'].map((v) => JSON.stringify(v)).join(' | ');
  for (const key of ['anyOf', 'oneOf'] as const) {
    const list = p[key];
    if (Array.isArray(list)) {
      return list.map((x) => (isRecord(x) ? jsonType(x, depth + 1) : 'any')).join(' | ');
    }
  }
  const type = p['type'];
  if (Array.isArray(type))
    return type.map((t) => jsonType({ ...p, type: t }, depth + 1)).join(' | ');
  if (type === 'array') {
    const items = p['items'];
    const item = isRecord(items) ? jsonType(items, depth + 1) : 'any';
    return item.includes(' ') ? `(${item})[]` : `${item}[]`;
  }
  return typeof type === 'string' ? type : 'any';
}
