import type { WorkerContext } from '../context.js';
import type { EntrypointMeta } from '../decorators.js';
import { SvcError } from '../errors.js';
import { HttpError } from '../http/types.js';
import { noInstance } from '../rpc/failover.js';
import { RecordLogger, callRecordTemplate, type CallRecordTemplate } from '../log/index.js';
import { CALL_RECORD } from '../log/logger.js';
import { outcomeAttributes } from '../tracing/spans.js';
import type { ServiceContainer } from './container.js';
import type { StreamOutcome } from './stream.js';

/** What an observer learns of each finished worker. */
export interface WorkerOutcome {
  ep: EntrypointMeta;
  ctx: WorkerContext;
  result: unknown;
  error: unknown;
  failed: boolean;
  durationMs: number;
  /** a streaming method's: how many items it gave, and what stopped it before its end, if anything */
  stream?: StreamOutcome;
}
export type WorkerObserver = (outcome: WorkerOutcome) => void;

/**
 * What is told of a worker once it has ended: its entrypoint's metrics, its
 * one log record (a failure at WARN without a stack when it was expected, at
 * ERROR with its stack when not), its span's end, and the observers.
 */
export class OutcomeReporter {
  readonly #container: ServiceContainer;
  readonly #observers = new Set<WorkerObserver>();
  readonly #epNames = new Map<EntrypointMeta, string>();
  readonly #okRecords = new Map<EntrypointMeta, { method: string; template: CallRecordTemplate }>();

  constructor(container: ServiceContainer) {
    this.#container = container;
  }

  /** Calls `observer` after every worker; returns the function that stops it. */
  observe(observer: WorkerObserver): () => void {
    this.#observers.add(observer);
    return () => this.#observers.delete(observer);
  }

  /** Metrics, the outcome's log record and observers, once a worker has ended. */
  report(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    durationMs: number,
    result: unknown,
    error: unknown,
    failed: boolean,
    stream?: StreamOutcome,
  ): void {
    this.#container.options.metrics.record(this.#entrypointName(ep), ep.kind, durationMs, failed);
    this.#logOutcome(ep, ctx, durationMs, failed, error, stream);
    if (ctx.span) endSpan(ep, ctx, error, failed, stream);
    if (this.#observers.size > 0) {
      const outcome: WorkerOutcome = { ep, ctx, result, error, failed, durationMs };
      if (stream) outcome.stream = stream;
      for (const observe of this.#observers) observe(outcome);
    }
  }

  /** `Service.method`, built once per entrypoint rather than on every call. */
  #entrypointName(ep: EntrypointMeta): string {
    let name = this.#epNames.get(ep);
    if (name === undefined) {
      name = `${this.#container.name}.${ep.kind === 'rpc' ? ep.name : ep.method}`;
      this.#epNames.set(ep, name);
    }
    return name;
  }

  /** The template of `ep`'s successful workers' records, made once. */
  #okRecord(ep: EntrypointMeta, ctx: WorkerContext): CallRecordTemplate {
    const made = this.#okRecords.get(ep);
    if (made?.method === ctx.method) return made.template;
    const entrypoint = `${this.#container.name}.${ctx.method}`;
    const template = callRecordTemplate(ep.kind, entrypoint, `${ep.kind} ${entrypoint} ok`);
    this.#okRecords.set(ep, { method: ctx.method, template });
    return template;
  }

  #logOutcome(
    ep: EntrypointMeta,
    ctx: WorkerContext,
    durationMs: number,
    failed: boolean,
    error: unknown,
    stream?: StreamOutcome,
  ): void {
    const { log, name } = this.#container;
    const expected = failed && isExpected(ep, error);
    // Built only when kept: a worker's record costs more than a small worker.
    if (log.enabled?.(failed ? (expected ? 'warn' : 'error') : 'info') === false) return;
    if (!failed && !stream && log instanceof RecordLogger) {
      log.callOk(this.#okRecord(ep, ctx), ctx, durationMs);
      return;
    }
    const fields: Record<string, unknown> = {
      kind: ep.kind,
      entrypoint: `${name}.${ctx.method}`,
      duration_ms: durationMs,
    };
    // The one record of the worker's span names its parent, so a trace's records make a tree.
    if (ctx.parentSpanId !== undefined) fields['parentSpanId'] = ctx.parentSpanId;
    // With export on, its calls' and events' own spans are their receivers' parents: it names them.
    if (ctx.sentSpanIds !== undefined) fields['sentSpanIds'] = [...ctx.sentSpanIds];
    if (stream) {
      fields['items'] = stream.items;
      if (stream.stopped !== undefined) fields['stopped'] = stream.stopped;
    }
    if (!failed) {
      // Kept in the history; printed only where the output asks for calls (`log.calls`).
      (fields as { [CALL_RECORD]?: true })[CALL_RECORD] = true;
      const what = `${ep.kind} ${name}.${ctx.method}`;
      if (!stream) log.info(`${what} ok`, fields);
      else if (stream.stopped === undefined)
        log.info(`${what} ok (${items(stream.items)})`, fields);
      else log.info(`${what} stopped after ${items(stream.items)}: ${stream.stopped}`, fields);
      return;
    }
    const err = error as Error;
    const errFields: Record<string, unknown> = {
      ...fields,
      error: err?.name ?? typeof error,
      error_message: err?.message ?? String(error),
    };
    // A failure's report says what the call was given (sensitive values redacted).
    const args = ctx.args;
    if (args !== undefined) errFields['args'] = args;
    if (expected) {
      log.warn(
        `${ep.kind} ${name}.${ctx.method} failed: ${String(errFields['error_message'])}`,
        errFields,
      );
    } else {
      log.error(`${ep.kind} ${name}.${ctx.method} failed: ${String(errFields['error_message'])}`, {
        ...errFields,
        stack: err?.stack,
      });
    }
  }
}

/** Ends a worker's span with its outcome (an HTTP route's with its status). */
function endSpan(
  ep: EntrypointMeta,
  ctx: WorkerContext,
  error: unknown,
  failed: boolean,
  stream: StreamOutcome | undefined,
): void {
  const attributes: Record<string, string | number | boolean> = {
    ...outcomeAttributes(ctx),
  };
  if (stream) attributes['svc.stream.items'] = stream.items;
  if (ep.kind === 'http' && failed) {
    // The status the HTTP server will answer a thrown error with.
    const e = error as { status?: unknown; httpStatus?: unknown } | undefined;
    const status = e instanceof HttpError ? e.status : (e?.httpStatus ?? 500);
    if (typeof status === 'number') attributes['http.response.status_code'] = status;
  }
  const expected = failed && isExpected(ep, error);
  ctx.span!.end(failed && !expected ? error : undefined, attributes);
  ctx.span = undefined;
}

function items(n: number): string {
  return n === 1 ? '1 item' : `${n} items`;
}

/**
 * Whether a worker's error is part of its method's contract rather than a
 * fault: its class says so (a ValidationError, an HttpError below 500), the
 * entrypoint declares it (`expected: [NotFound]`), or an HTTP route failed
 * because a service it called has no instance to run the call
 * ({@link noInstance}): the HTTP server answers that with a 503 to retry, as
 * a gateway does, logged once at WARN. An RPC worker's stays an error: it is
 * passed on to its caller as it is.
 */
export function isExpected(ep: EntrypointMeta, error: unknown): boolean {
  if (error instanceof SvcError && error.expected) return true;
  if (ep.kind === 'http' && noInstance(error)) return true;
  return (ep.options.expected ?? []).some((cls) => error instanceof cls);
}
