import { randomBytes } from 'node:crypto';
import { Script } from 'node:vm';
import { inspect, types } from 'node:util';
import type { Caller } from '../client.js';
import type { ServiceContainer } from '../container/container.js';
import type { CallHeaders } from '../context-headers.js';
import { WorkerContext, runInContext } from '../context.js';
import type { EntrypointMeta } from '../decorators.js';
import { MethodNotFoundError, SvcError, UsageError } from '../errors.js';
import { formatResult } from './format.js';

/*
 * `svc.eval`: code typed in `svc shell --instance ID` runs here, in the
 * instance's own process and realm, with its services in scope. It is
 * answered only where the instance's config says `debug: { shell: true }`,
 * and the code comes from a member of the cluster (the transports'
 * authentication), never from anything else received.
 */

/** The most code one `svc.eval` takes, in characters. */
export const MAX_EVAL_CODE = 64 * 1024;
/** The most text one answer carries; longer output is cut and says so. */
export const MAX_EVAL_TEXT = 256 * 1024;
/** How long code may run when the caller names no timeout, ms. */
export const DEFAULT_EVAL_TIMEOUT = 30_000;
/** The longest timeout a caller may ask for, ms. */
export const MAX_EVAL_TIMEOUT = 10 * 60_000;

/** What `svc.eval` answers: the value as text, or the error the code raised. */
export interface EvalAnswer {
  /** the value, formatted; absent when it was `undefined` */
  text?: string;
  /** the error the code threw (or its timeout), formatted */
  error?: { name: string; message: string; text: string };
}

/** What the evaluated code has in scope. */
export interface EvalScope {
  /** `services.Greeting.greet({ name })`: runs an entrypoint of this instance as a real worker */
  services: Record<string, Record<string, (...args: unknown[]) => Promise<unknown>>>;
  /** each service's container: its config, providers (dependencies), log, state */
  containers: Record<string, ServiceContainer>;
  /** the calls of the cluster, made from this instance: `rpc.Other.method({...})` */
  rpc: Caller['proxies'];
  emit: Caller['emit'];
  /** the worker context the code runs in (its trace id, context data) */
  context: WorkerContext;
  [name: string]: unknown;
}

/**
 * Runs `params.code` with the instance's services in scope and answers
 * with its value or its error, formatted (`format: 'json'` as `svc shell
 * -c` prints, `'inspect'` as the REPL does). Throws only for a bad
 * request (no code, too much code); whatever the code does is answered.
 */
export async function evaluateInInstance(
  containers: readonly ServiceContainer[],
  extra: Record<string, unknown>,
  params: Record<string, unknown>,
  headers: Partial<CallHeaders> | undefined,
): Promise<EvalAnswer> {
  const code = params['code'];
  if (typeof code !== 'string' || code.trim() === '')
    throw new UsageError('svc.eval needs { code: "..." }');
  if (code.length > MAX_EVAL_CODE)
    throw new UsageError(
      `svc.eval takes at most ${MAX_EVAL_CODE} characters of code, got ${code.length}`,
    );
  const timeout = evalTimeout(params['timeout']);
  const color = params['color'] === true;
  const asRepl = params['format'] === 'inspect';
  const first = containers[0];
  if (!first) throw new UsageError('this instance runs no service');

  const context = new WorkerContext({
    service: first.name,
    method: 'svc.eval',
    kind: 'rpc',
    ...(headers ? { headers } : {}),
  });
  const scope: EvalScope = {
    ...extra,
    services: Object.fromEntries(containers.map((c) => [c.name, entrypoints(c, context)])),
    containers: Object.fromEntries(containers.map((c) => [c.name, c])),
    rpc: first.caller.proxies,
    emit: first.caller.emit.bind(first.caller),
    context,
  };
  try {
    const value = await runInContext(context, () => runCode(code, scope, timeout));
    const text = asRepl ? replText(value, color) : formatResult(value, color);
    return text === undefined ? {} : { text: cut(text) };
  } catch (err) {
    return { error: describeError(err, color) };
  } finally {
    context.end();
  }
}

function evalTimeout(value: unknown): number {
  if (value === undefined) return DEFAULT_EVAL_TIMEOUT;
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0)
    throw new UsageError('svc.eval: timeout is a positive number of milliseconds');
  return Math.min(value, MAX_EVAL_TIMEOUT);
}

/**
 * Runs the code as the body of an async function (top-level `await`; an
 * expression's value is returned). It is compiled as a script in this
 * realm so that the timeout also stops a synchronous loop (`while (true)`)
 * up to its first `await`; after that, the answer stops waiting at the
 * timeout but the code, like any worker, runs on.
 */
async function runCode(code: string, scope: EvalScope, timeout: number): Promise<unknown> {
  const slot = `__svcEval${randomBytes(6).toString('hex')}`;
  const names = Object.keys(scope).filter((n) => /^[A-Za-z_$][\w$]*$/.test(n));
  const wrap = (body: string) =>
    `(async function ({ ${names.join(', ')} }) {\n${body}\n})(globalThis.${slot})`;
  // Line numbers in the code's errors count from its own first line.
  let script: Script;
  try {
    script = new Script(wrap(`return (\n${code}\n);`), { filename: 'svc-shell', lineOffset: -2 });
  } catch {
    script = new Script(wrap(code), { filename: 'svc-shell', lineOffset: -1 });
  }
  const global = globalThis as Record<string, unknown>;
  let running: Promise<unknown>;
  global[slot] = scope;
  try {
    running = script.runInThisContext({ timeout, breakOnSigint: false }) as Promise<unknown>;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_SCRIPT_EXECUTION_TIMEOUT')
      throw timeoutError(`the code ran longer than ${timeout} ms without an await: stopped`);
    throw err;
  } finally {
    delete global[slot];
  }
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          timeoutError(`the code did not finish within ${timeout} ms (it may still be running)`),
        ),
      timeout,
    );
  });
  try {
    return await Promise.race([running, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** The code ran out of time: said in one line, it has no stack of its own worth showing. */
class EvalTimeout extends Error {
  override readonly name = 'TimeoutError';
}

function timeoutError(message: string): Error {
  return new EvalTimeout(message);
}

/**
 * `services.Greeting.greet(params)`: the named entrypoint (an RPC method
 * by its RPC name, or any entrypoint by its method name) run as a worker
 * of this instance, with its dependencies, hooks and metrics, in the
 * eval's trace.
 */
function entrypoints(
  container: ServiceContainer,
  context: WorkerContext,
): Record<string, (...args: unknown[]) => Promise<unknown>> {
  const find = (name: string): EntrypointMeta | undefined =>
    container.entrypoints.find((e) => e.kind === 'rpc' && e.name === name) ??
    container.entrypoints.find((e) => e.method === name);
  return new Proxy(
    {},
    {
      get(_target, key) {
        if (typeof key !== 'string' || key === 'then') return undefined;
        const ep = find(key);
        if (!ep) {
          const known = [
            ...new Set(container.entrypoints.map((e) => (e.kind === 'rpc' ? e.name : e.method))),
          ];
          return () =>
            Promise.reject(
              new MethodNotFoundError(
                `${container.name} has no entrypoint "${key}" (it has: ${known.join(', ') || 'none'})`,
              ),
            );
        }
        return (...args: unknown[]) =>
          container.spawnWorker(
            ep,
            ep.kind === 'rpc' && args.length === 0 ? [{}] : args,
            context.outgoing(),
          );
      },
      ownKeys() {
        return [
          ...new Set(container.entrypoints.map((e) => (e.kind === 'rpc' ? e.name : e.method))),
        ];
      },
      getOwnPropertyDescriptor() {
        return { enumerable: true, configurable: true };
      },
    },
  );
}

/** A value as the REPL writes it. */
function replText(value: unknown, color: boolean): string | undefined {
  if (value === undefined) return undefined;
  if (types.isPromise(value)) return 'Promise { … } (put await before the call to see its value)';
  return inspect(value, { depth: 4, colors: color });
}

function describeError(err: unknown, color: boolean): NonNullable<EvalAnswer['error']> {
  if (err instanceof Error) {
    // An error of svc (a call's) is its message; the code's own error keeps its stack.
    const text =
      err instanceof SvcError || err instanceof EvalTimeout
        ? `${err.name}: ${err.message}`
        : inspect(ownFrames(err), { depth: 2, colors: color });
    return { name: err.name, message: cut(err.message, 4096), text: cut(text) };
  }
  const text = inspect(err, { depth: 2, colors: color });
  return { name: 'Error', message: cut(text, 4096), text: cut(text) };
}

/** The error with its stack cut where svc's own frames begin: what is left is the user's code. */
function ownFrames(err: Error): Error {
  const stack = err.stack;
  if (stack === undefined) return err;
  const lines = stack.split('\n');
  const end = lines.findIndex((l) => /^\s+at .*\(node:vm:|^\s+at Script\.runInThisContext/.test(l));
  // The frame just above vm's is the script's own call of the code: not the user's either.
  if (end > 0)
    err.stack = lines.slice(0, /svc-shell:/.test(lines[end - 1]!) ? end - 1 : end).join('\n');
  return err;
}

function cut(text: string, max = MAX_EVAL_TEXT): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}\n… (${text.length - max} more characters not shown)`;
}
