import { BUILTIN_METHODS } from './builtins.js';
import type { ServiceContainer } from './container/container.js';
import type { EntrypointMeta } from './decorators.js';
import { IncorrectSignatureError, ValidationError } from './errors.js';
import { destructuredParams, methodDocs } from './introspect.js';
import { toObjectSchema } from './schema.js';
import type { SubscriptionMode } from './registry/registry.js';
import type { RpcRequest } from './rpc/transport.js';

export interface ParamDescription {
  name: string;
  type?: string;
  optional?: boolean;
  doc?: string;
}

export interface MethodDescription {
  name: string;
  params: ParamDescription[];
  doc?: string;
}

/** What `svc.inspect()` returns. */
export interface ServiceDescription {
  service: string;
  rpc: MethodDescription[];
  builtins: MethodDescription[];
  events: Array<{
    type: string;
    source?: string;
    mode: SubscriptionMode;
    handler: string;
    doc?: string;
  }>;
  timers: Array<{ handler: string; interval: number; eager: boolean }>;
  http: Array<{ method: string; path: string; handler: string; doc?: string }>;
}

type RpcEp = Extract<EntrypointMeta, { kind: 'rpc' }>;

/** Declared parameters of an RPC method: from its schema, else from its destructuring pattern. */
export function paramsOf(container: ServiceContainer, ep: RpcEp): ParamDescription[] {
  if (ep.options.params) {
    const schema = toObjectSchema(ep.options.params);
    return Object.entries(schema.shape).map(([name, s]) => ({
      name,
      type: s.type,
      ...(s.optional ? { optional: true } : {}),
      ...(s.doc === undefined ? {} : { doc: s.doc }),
    }));
  }
  const fn = (container.cls.prototype as Record<string, unknown>)[ep.method];
  return typeof fn === 'function'
    ? destructuredParams(fn as () => unknown).map((name) => ({ name }))
    : [];
}

export function describeService(container: ServiceContainer): ServiceDescription {
  const docs = container.options.sourceFile
    ? methodDocs(container.options.sourceFile)
    : new Map<string, string>();
  const doc = (ep: EntrypointMeta) => ep.options.doc ?? docs.get(ep.method);
  const withDoc = <T extends object>(o: T, d: string | undefined) =>
    d === undefined ? o : { ...o, doc: d };
  const out: ServiceDescription = {
    service: container.name,
    rpc: [],
    builtins: BUILTIN_METHODS,
    events: [],
    timers: [],
    http: [],
  };
  for (const ep of container.entrypoints) {
    switch (ep.kind) {
      case 'rpc':
        out.rpc.push(withDoc({ name: ep.name, params: paramsOf(container, ep) }, doc(ep)));
        break;
      case 'event':
        out.events.push(
          withDoc(
            {
              type: ep.type,
              ...(ep.options.source === undefined ? {} : { source: ep.options.source }),
              mode: ep.options.broadcast
                ? 'broadcast'
                : ep.options.singleton
                  ? 'singleton'
                  : 'pool',
              handler: ep.method,
            },
            doc(ep),
          ),
        );
        break;
      case 'timer':
        out.timers.push({
          handler: ep.method,
          interval: ep.interval,
          eager: Boolean(ep.options.eager),
        });
        break;
      case 'http':
        out.http.push(withDoc({ method: ep.verb, path: ep.path, handler: ep.method }, doc(ep)));
        break;
    }
  }
  out.rpc.sort((a, b) => a.name.localeCompare(b.name));
  return out;
}

/**
 * The parameters object a method is called with: keyword arguments, plus
 * positional ones (from Nameko peers) mapped by declared order; then
 * checked against the schema.
 */
export function mapParams(
  container: ServiceContainer,
  ep: RpcEp,
  request: RpcRequest,
): Record<string, unknown> {
  const raw = request.params ?? {};
  if (typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ValidationError(
      `${container.name}.${ep.name} takes one parameters object, got ${Array.isArray(raw) ? 'a list' : typeof raw}`,
    );
  }
  const args = request.args ?? [];
  // Copied only to add positional arguments: transports decode a fresh object per request.
  const params = (args.length > 0 ? { ...raw } : raw) as Record<string, unknown>;
  if (args.length > 0) {
    const names = paramsOf(container, ep).map((p) => p.name);
    if (args.length > names.length) {
      throw new IncorrectSignatureError(
        `${ep.name}() takes ${names.length} positional argument${names.length === 1 ? '' : 's'} but ${args.length} were given`,
      );
    }
    args.forEach((value, i) => {
      const name = names[i]!;
      if (Object.hasOwn(params, name)) {
        throw new IncorrectSignatureError(
          `${ep.name}() got multiple values for argument '${name}'`,
        );
      }
      params[name] = value;
    });
  }
  if (ep.options.params) {
    const problems = toObjectSchema(ep.options.params).check(params, '');
    if (problems.length > 0) {
      throw new ValidationError(
        `invalid parameters for ${container.name}.${ep.name}: ${problems.join('; ')}`,
        {
          data: { problems },
        },
      );
    }
  }
  return params;
}
