import { createInterface } from 'node:readline';
import { PassThrough } from 'node:stream';
import { inspect, types } from 'node:util';
import { SvcError, type CallOptions, type ClusterClient, type EmitOptions } from '@svc/core';
import { formatResult } from '@svc/core/internal';
import { clusterCompletion, completeRpc } from './complete.js';

export { formatResult };

/** The names a shell puts in scope: `rpc`, `emit`, `discover`, `inspect`, `client`. */
export function shellScope(client: ClusterClient): Record<string, unknown> {
  return {
    client,
    rpc: rpcProxies(client),
    emit: guard((type: string, body?: unknown, options?: EmitOptions) =>
      client.emit(type, body, options),
    ),
    discover: guard(async () => {
      const out: Record<string, Array<{ id: string; pid: number; host: string }>> = {};
      for (const [service, list] of await client.discover())
        out[service] = list.map((r) => ({ id: r.id, pid: r.pid, host: r.host }));
      return out;
    }),
    inspect: guard((service: string) => client.inspect(service)),
  };
}

/**
 * `rpc.Service.method(params, options)`, whose errors carry no local stack;
 * `.defer(...)`, and `.stream(...)` for a streaming method's items
 * (`for await (const x of rpc.Numbers.count.stream({ n: 3 })) console.log(x)`).
 */
function rpcProxies(client: ClusterClient): Record<string, Record<string, unknown>> {
  const method = (service: string, name: string) => {
    const fn = guard((params?: Record<string, unknown>, options?: CallOptions) =>
      client.call(service, name, params ?? {}, options),
    );
    return Object.assign(fn, {
      defer: (params?: Record<string, unknown>, options?: CallOptions) =>
        client.defer(service, name, params ?? {}, options),
      stream: (params?: Record<string, unknown>, options?: CallOptions) =>
        shortStacks(client.stream(service, name, params ?? {}, options)),
    });
  };
  // `then` stays undefined so that a proxy is never taken for a promise.
  const named = <T>(make: (name: string) => T) => {
    const made = new Map<string, T>();
    return new Proxy(
      {},
      {
        get(_target, key) {
          if (typeof key !== 'string' || key === 'then') return undefined;
          let value = made.get(key);
          if (value === undefined) made.set(key, (value = make(key)));
          return value;
        },
      },
    );
  };
  return named((service) => named((name) => method(service, name)));
}

/** A stream whose errors, like a call's, carry no local stack. */
function shortStacks<T>(
  items: AsyncIterableIterator<T, unknown>,
): AsyncIterableIterator<T, unknown> {
  const wrapped: AsyncIterableIterator<T, unknown> = {
    next: async () => {
      try {
        return await items.next();
      } catch (err) {
        throw shortStack(err);
      }
    },
    return: async (value?: unknown) => (await items.return?.(value)) ?? { done: true, value },
    [Symbol.asyncIterator]: () => wrapped,
  };
  return wrapped;
}

function guard<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await fn(...args);
    } catch (err) {
      throw shortStack(err);
    }
  };
}

/**
 * Runs code with the shell's names in scope and top-level `await`: an
 * expression's value is returned; statements run and give `undefined`
 * (or what they `return`). The code is the user's own, from the command
 * line; nothing received from the cluster is ever evaluated.
 */
export async function evaluate(code: string, scope: Record<string, unknown>): Promise<unknown> {
  const AsyncFunction = (Object.getPrototypeOf(async () => {}) as { constructor: unknown })
    .constructor as new (...args: string[]) => (...values: unknown[]) => Promise<unknown>;
  const names = Object.keys(scope);
  let fn: (...values: unknown[]) => Promise<unknown>;
  try {
    fn = new AsyncFunction(...names, `return (\n${code}\n);`);
  } catch {
    fn = new AsyncFunction(...names, code);
  }
  return fn(...names.map((n) => scope[n]));
}

export interface ShellOptions {
  client: ClusterClient;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  /** shown before the first prompt */
  banner?: string;
}

/**
 * `svc shell`: a Node REPL with top-level await, already connected:
 * `rpc.Greeting.greet({ name })`, `emit(type, body)`, `discover()`,
 * `inspect(name)`, `client`; Tab completes service and method names.
 * Resolves when the REPL closes (`.exit`, Ctrl-D).
 */
export async function runShell(options: ShellOptions): Promise<void> {
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const color = Boolean((output as NodeJS.WriteStream).isTTY) && !process.env['NO_COLOR'];
  if (options.banner) output.write(`${options.banner}\n`);
  // Imported here, not at the top: node:repl loads node:domain, which puts a wrapper
  // around every event emitted and every I/O callback of the process, and svc
  // instance imports this package for its log stream.
  const { start: startRepl } = await import('node:repl');
  // Input that is not a terminal (`printf ... | svc shell`) arrives all at once: Node's REPL
  // would start every line at once, out of order, and close on its end while calls still
  // wait. Such input is handed to the REPL one line at a time instead (see feedLines).
  const piped = !(input as NodeJS.ReadStream).isTTY;
  const server = startRepl({
    prompt: 'svc> ',
    input: piped ? new PassThrough() : input,
    output,
    ...(piped ? { terminal: false } : {}),
    useGlobal: false,
    ignoreUndefined: true,
    preview: false,
    // Promises carry async-hook bookkeeping that Node would print; point at `await` instead.
    writer: (value: unknown) =>
      types.isPromise(value)
        ? 'Promise { … } (put await before the call to see its value)'
        : inspect(value, { depth: 4, colors: color }),
  });
  Object.assign(server.context, shellScope(options.client));
  const source = clusterCompletion(options.client);
  const fallback = server.completer as (
    line: string,
    cb: (err: Error | null, result?: [string[], string]) => void,
  ) => void;
  // Readline reads `completer` at each Tab: `rpc.` completions come from the cluster, the rest from Node.
  (server as unknown as { completer: typeof fallback }).completer = (line, cb) => {
    completeRpc(line, source).then(
      (found) => (found ? cb(null, found) : fallback.call(server, line, cb)),
      () => fallback.call(server, line, cb),
    );
  };
  // A promise nobody awaited (`rpc.X.y()` without await) that fails is printed, not fatal.
  const onRejection = (reason: unknown) => {
    output.write(`Uncaught (in promise) ${inspect(shortStack(reason), { depth: 2 })}\n`);
    server.displayPrompt();
  };
  process.on('unhandledRejection', onRejection);
  try {
    const exited = new Promise<void>((resolve) => server.on('exit', () => resolve()));
    if (piped) await feedLines(server, input, exited);
    await exited;
  } finally {
    process.off('unhandledRejection', onRejection);
  }
}

type Repl = import('node:repl').REPLServer;

/**
 * Hands `input` to the REPL line by line: each line once the REPL has
 * answered the one before (shown its next prompt, after the evaluation and
 * any calls it awaited have ended, or an error was printed), so inputs run
 * in order, names one declares are there for the next, and an input
 * continued on the next line (an open bracket) is continued as in a
 * terminal. Closes the REPL after the last line is answered, or stops when
 * the REPL exits first (`.exit`).
 */
async function feedLines(
  server: Repl,
  input: NodeJS.ReadableStream,
  exited: Promise<void>,
): Promise<void> {
  let closed = false;
  void exited.then(() => (closed = true));
  let answered: (() => void) | undefined;
  const displayPrompt = server.displayPrompt.bind(server);
  server.displayPrompt = (preserveCursor?: boolean) => {
    displayPrompt(preserveCursor);
    answered?.();
  };
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) {
      if (closed) break;
      const next = new Promise<void>((resolve) => (answered = resolve));
      server.write(`${line}\n`);
      await Promise.race([next, exited]);
    }
  } finally {
    lines.close();
  }
  if (!closed) server.close();
}

/** An error raised by the cluster, with its stack cut to its first line. */
function shortStack<T>(err: T): T {
  if (err instanceof SvcError) err.stack = `${err.name}: ${err.message}`;
  return err;
}
