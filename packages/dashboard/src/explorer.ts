import type { ClusterClient } from '@svc/core';
import { MethodNotFoundError, WorkerContext, toWireError } from '@svc/core';
import { runInContext } from '@svc/core/internal';
import { findInstance, instanceInspector } from '@svc/tail';
import { RequestError } from './body.js';
import type { CallOutcome, DebugAnswer } from './wire.js';

const NAME = /^[A-Za-z_][A-Za-z0-9_.-]{0,199}$/;
const MAX_TIMEOUT = 120_000;

/** The dashboard's own name in call-id stacks and as the source of the events it emits. */
export const DASHBOARD_NAME = 'svc-dashboard';

/**
 * Runs `fn` as a worker of the dashboard would, so the call or event it
 * makes starts a trace whose id the page can show and link to.
 */
function traced<T>(method: string, fn: () => Promise<T>): { traceId: string; done: Promise<T> } {
  const ctx = new WorkerContext({ service: DASHBOARD_NAME, method, kind: 'rpc' });
  return { traceId: ctx.traceId, done: runInContext(ctx, fn) };
}

function name(value: unknown, what: string): string {
  if (typeof value !== 'string' || !NAME.test(value))
    throw new RequestError(400, `${what} must be a name like Greeting or greet`);
  return value;
}

/** `POST /api/call` `{ service, method, params?, timeout? }`. */
export async function callMethod(
  client: ClusterClient,
  body: Record<string, unknown>,
): Promise<CallOutcome> {
  const service = name(body['service'], 'service');
  const method = name(body['method'], 'method');
  const params = body['params'] ?? {};
  if (typeof params !== 'object' || params === null || Array.isArray(params))
    throw new RequestError(400, 'params must be a JSON object (keyword arguments)');
  const timeout = body['timeout'] ?? 5000;
  if (
    typeof timeout !== 'number' ||
    !Number.isInteger(timeout) ||
    timeout < 1 ||
    timeout > MAX_TIMEOUT
  )
    throw new RequestError(400, `timeout must be a whole number of ms from 1 to ${MAX_TIMEOUT}`);
  const started = performance.now();
  const { traceId, done } = traced('call', () => client.call(service, method, params, { timeout }));
  try {
    const result = await done;
    return { ok: true, result: result ?? null, traceId, durationMs: elapsed(started) };
  } catch (err) {
    return { ok: false, error: toWireError(err), traceId, durationMs: elapsed(started) };
  }
}

/** `POST /api/emit` `{ type, body?, source? }`. */
export async function emitEvent(
  client: ClusterClient,
  body: Record<string, unknown>,
): Promise<CallOutcome> {
  const type = name(body['type'], 'type');
  const source = body['source'] === undefined ? DASHBOARD_NAME : name(body['source'], 'source');
  const payload = body['body'] ?? {};
  const started = performance.now();
  const { traceId, done } = traced('emit', () => client.emit(type, payload, { source }));
  try {
    await done;
    return { ok: true, result: null, traceId, durationMs: elapsed(started) };
  } catch (err) {
    return { ok: false, error: toWireError(err), traceId, durationMs: elapsed(started) };
  }
}

/**
 * `POST /api/debug` `{ instance, close? }`: opens (or closes) the Node.js
 * inspector of one instance through its `svc.debug`, which answers only
 * where the instance's config says `debug: { inspector: true }`.
 */
export async function debugInstance(
  client: ClusterClient,
  body: Record<string, unknown>,
): Promise<DebugAnswer> {
  const id = body['instance'];
  if (typeof id !== 'string' || !/^[0-9a-f]{4,64}$/.test(id))
    throw new RequestError(400, 'instance must be an instance id (hex)');
  if (body['close'] !== undefined && typeof body['close'] !== 'boolean')
    throw new RequestError(400, 'close must be true or false');
  const target = await findInstance(client, id);
  let answer: Awaited<ReturnType<typeof instanceInspector>>;
  try {
    answer = await instanceInspector(client, target, { close: body['close'] === true });
  } catch (err) {
    // Off in the instance's config (the message names the key): the page shows it as it is.
    if (err instanceof MethodNotFoundError) throw new RequestError(409, err.message);
    throw err;
  }
  return { instance: target.id, shell: `svc shell --instance ${target.id}`, ...answer };
}

function elapsed(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
