import { builtinMethods } from './builtins.js';
import type { ServiceContainer } from './container/container.js';
import type { EntrypointMeta } from './decorators.js';
import { IncorrectSignatureError, ValidationError } from './errors.js';
import type { ParamDescription } from './params.js';
import type { SubscriptionMode } from './registry/registry.js';
import type { RpcRequest } from './rpc/transport.js';

export type { ParamDescription } from './params.js';

/**
 * What a parser found in a service class's source: its doc comment and each
 * method's, with the method's parameters (names in order, types as written,
 * docs from `@param` tags or the parameter type's member comments). The CLI
 * writes it beside the files it compiles; an instance reads it when first
 * asked to describe itself.
 */
export interface ClassDocs {
  doc?: string;
  methods: Record<string, MethodDocs>;
}

export interface MethodDocs {
  doc?: string;
  params?: ParamDescription[];
}

export interface MethodDescription {
  name: string;
  params: ParamDescription[];
  doc?: string;
  /** the JSON Schema of the parameters, when their Standard Schema converts to one */
  schema?: Record<string, unknown>;
  /** an `async *` method: read it as a stream (`.stream()`), its items come as they are made */
  stream?: boolean;
  /** parameters (names or dotted paths) redacted wherever the call's arguments are shown */
  sensitive?: string[];
  /** safe to repeat (`@rpc({ idempotent: true })`): a call cut by its instance's death is sent again */
  idempotent?: boolean;
}

/** What `svc.inspect()` returns. */
export interface ServiceDescription {
  service: string;
  /** the class's doc comment */
  doc?: string;
  rpc: MethodDescription[];
  builtins: MethodDescription[];
  events: Array<{
    type: string;
    source?: string;
    mode: SubscriptionMode;
    handler: string;
    doc?: string;
  }>;
  timers: Array<{ handler: string; interval: number; eager: boolean; doc?: string }>;
  http: Array<{ method: string; path: string; handler: string; doc?: string }>;
}

type RpcEp = Extract<EntrypointMeta, { kind: 'rpc' }>;

const docsOf = new WeakMap<ServiceContainer, ClassDocs | null>();

/** The class's docs from its source, read once, when first needed. */
function classDocs(container: ServiceContainer): ClassDocs | undefined {
  let docs = docsOf.get(container);
  if (docs === undefined) {
    try {
      docs = container.options.docs?.() ?? null;
    } catch (err) {
      // Docs are a nicety: a broken sidecar must not break inspect or a call.
      container.log.warn(`reading the docs of ${container.name} failed: ${(err as Error).message}`);
      docs = null;
    }
    docsOf.set(container, docs);
  }
  return docs ?? undefined;
}

/**
 * Declared parameters of an RPC method: from its schema (with docs from the
 * source where the schema has none), else from its source.
 */
export function paramsOf(
  container: ServiceContainer,
  ep: RpcEp,
): { params: ParamDescription[]; schema?: Record<string, unknown> } {
  const fromSource = classDocs(container)?.methods[ep.method]?.params ?? [];
  const described = ep.params?.describe();
  // Without a schema, or with one that cannot say its parameters (no JSON Schema): the source's.
  if (!described || (!described.schema && described.params.length === 0)) {
    return { params: fromSource };
  }
  const params = described.params.map((p) => {
    const doc = p.doc ?? fromSource.find((s) => s.name === p.name)?.doc;
    return doc === undefined ? p : { ...p, doc };
  });
  return described.schema ? { params, schema: described.schema } : { params };
}

const positionalNames = new WeakMap<RpcEp, readonly string[] | null>();

/** Parameter names in order, for positional arguments: the schema's, else the source's. */
function paramNames(container: ServiceContainer, ep: RpcEp): readonly string[] | undefined {
  let names = positionalNames.get(ep);
  if (names === undefined) {
    names =
      ep.params?.names() ??
      classDocs(container)?.methods[ep.method]?.params?.map((p) => p.name) ??
      null;
    positionalNames.set(ep, names);
  }
  return names ?? undefined;
}

export function describeService(container: ServiceContainer): ServiceDescription {
  const docs = classDocs(container);
  const doc = (ep: EntrypointMeta) => ep.options.doc ?? docs?.methods[ep.method]?.doc;
  const withDoc = <T extends object>(o: T, d: string | undefined) =>
    d === undefined ? o : { ...o, doc: d };
  const out: ServiceDescription = {
    service: container.name,
    ...(docs?.doc === undefined ? {} : { doc: docs.doc }),
    rpc: [],
    builtins: builtinMethods(container),
    events: [],
    timers: [],
    http: [],
  };
  for (const ep of container.entrypoints) {
    switch (ep.kind) {
      case 'rpc':
        out.rpc.push(
          withDoc(
            {
              name: ep.name,
              ...paramsOf(container, ep),
              ...(ep.stream ? { stream: true } : {}),
              ...(ep.options.sensitive?.length ? { sensitive: [...ep.options.sensitive] } : {}),
              ...(ep.options.idempotent === true ? { idempotent: true } : {}),
            },
            doc(ep),
          ),
        );
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
        out.timers.push(
          withDoc(
            { handler: ep.method, interval: ep.interval, eager: Boolean(ep.options.eager) },
            doc(ep),
          ),
        );
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
 * checked against the schema, which may also transform them. A promise
 * only when the schema validates asynchronously.
 */
export function mapParams(
  container: ServiceContainer,
  ep: RpcEp,
  request: RpcRequest,
): Record<string, unknown> | Promise<Record<string, unknown>> {
  // Absent params are none; null is refused like any other non-object (it was taken as none).
  const raw = request.params === undefined ? {} : request.params;
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
    throw new ValidationError(
      `${container.name}.${ep.name} takes one parameters object, got ${raw === null ? 'null' : Array.isArray(raw) ? 'a list' : typeof raw}`,
    );
  }
  const args = request.args ?? [];
  // Copied only to add positional arguments: transports decode a fresh object per request.
  const params = (args.length > 0 ? { ...raw } : raw) as Record<string, unknown>;
  if (args.length > 0) {
    const names = paramNames(container, ep);
    if (!names) {
      throw new IncorrectSignatureError(
        `${ep.name}() got positional arguments, but the names of its parameters are unknown: give it a params schema (or run it with the svc CLI, which reads them from its source)`,
      );
    }
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
  return ep.params
    ? ep.params.validate(params, `${container.name}.${ep.name}`, ep.options.sensitive)
    : params;
}
