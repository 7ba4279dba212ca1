import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import { Script } from 'node:vm';
import { UsageError, type ClusterClient, type InstanceRecord } from '@svc/core';
import {
  DEFAULT_EVAL_TIMEOUT,
  MAX_EVAL_CODE,
  type EvalAnswer,
  type InspectorAddress,
} from '@svc/core/internal';
import { clusterCompletion, completeRpc, type CompletionSource } from './complete.js';

/** A running instance found by its id, with the address its built-ins answer at. */
export interface InstanceTarget {
  id: string;
  /** the services it runs; built-ins are asked through the first */
  services: string[];
  /** its direct RPC endpoint */
  address: string;
  host: string;
  pid: number;
}

/**
 * Finds a running instance by its id (as `svc discover --instances` and
 * `svc top` show it) or a prefix of it that only one instance has.
 */
export async function findInstance(client: ClusterClient, id: string): Promise<InstanceTarget> {
  const wanted = id.trim().toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(wanted))
    throw new UsageError(
      `"${id}" is not an instance id (hex, at least 4 characters; svc discover --instances lists them)`,
    );
  const byId = new Map<string, InstanceRecord[]>();
  for (const r of await client.backends.registry.list()) {
    if (r.service.startsWith('svc-cli-') || !r.id.toLowerCase().startsWith(wanted)) continue;
    byId.set(r.id, [...(byId.get(r.id) ?? []), r]);
  }
  const exact = byId.get(wanted);
  const found = exact ? [[wanted, exact] as const] : [...byId];
  if (found.length === 0)
    throw new UsageError(
      `no running instance ${id} in this cluster (svc discover --instances lists them)`,
    );
  if (found.length > 1)
    throw new UsageError(
      `${id} names ${found.length} instances (${found.map(([i]) => i).join(', ')}): give more of the id`,
    );
  const [fullId, records] = found[0]!;
  const address = records[0]!.endpoints['rpc'];
  if (typeof address !== 'string')
    throw new UsageError(
      `instance ${fullId} has no direct RPC endpoint (its rpc is amqp): svc shell --instance and svc debug need rpc: net or zmq`,
    );
  return {
    id: fullId,
    services: records.map((r) => r.service).sort(),
    address,
    host: records[0]!.host,
    pid: records[0]!.pid,
  };
}

export interface RemoteEvalOptions {
  /** how long the code may run, ms */
  timeout?: number;
  /** `json`: as `svc shell -c` prints; `inspect`: as the REPL does */
  format?: 'json' | 'inspect';
  color?: boolean;
}

/** Runs code inside the instance (`svc.eval`) and answers with its formatted value or error. */
export async function evalInInstance(
  client: ClusterClient,
  target: InstanceTarget,
  code: string,
  options: RemoteEvalOptions = {},
): Promise<EvalAnswer> {
  if (code.length > MAX_EVAL_CODE)
    throw new UsageError(`at most ${MAX_EVAL_CODE} characters of code, got ${code.length}`);
  const timeout = options.timeout ?? DEFAULT_EVAL_TIMEOUT;
  const answer = await client.call(
    target.services[0]!,
    'svc.eval',
    { code, timeout, format: options.format ?? 'json', color: options.color === true },
    // The instance stops waiting at `timeout`; its answer needs a moment more to arrive.
    { address: target.address, timeout: timeout + 5000 },
  );
  return answer as EvalAnswer;
}

/** Opens (or with `close`, closes) the Node.js inspector of the instance (`svc.debug`). */
export async function instanceInspector(
  client: ClusterClient,
  target: InstanceTarget,
  options: { close?: boolean; timeout?: number } = {},
): Promise<InspectorAddress | { closed: boolean; pid: number }> {
  return (await client.call(
    target.services[0]!,
    'svc.debug',
    options.close ? { close: true } : {},
    { address: target.address, timeout: options.timeout ?? 5000 },
  )) as InspectorAddress | { closed: boolean; pid: number };
}

/** Whether the instance runs on another machine than this one (its inspector then needs a tunnel). */
export function isElsewhere(target: InstanceTarget): boolean {
  return target.host !== hostname();
}

export interface RemoteShellOptions {
  client: ClusterClient;
  target: InstanceTarget;
  input?: NodeJS.ReadableStream;
  output?: NodeJS.WritableStream;
  banner?: string;
  /** how long each input may run, ms */
  timeout?: number;
  /** the REPL even when the input is not a terminal (default: only on a terminal; else line by line) */
  terminal?: boolean;
}

/** What the REPL's writer prints as it is: text formatted by the instance. */
class Printed {
  constructor(readonly text: string | undefined) {}
}

/**
 * `svc shell --instance ID`: a REPL whose input runs inside the instance.
 * Multi-line input is continued until it parses; Tab completes `rpc.`
 * from the cluster and `services.` from the instance's own services;
 * history is the session's, as in `svc shell`. Each input runs on its own:
 * names it declares do not outlive it.
 */
export async function runRemoteShell(options: RemoteShellOptions): Promise<void> {
  const { client, target } = options;
  const input = options.input ?? process.stdin;
  const output = options.output ?? process.stdout;
  const color = Boolean((output as NodeJS.WriteStream).isTTY) && !process.env['NO_COLOR'];
  if (options.banner) output.write(`${options.banner}\n`);
  const run = async (code: string): Promise<Printed | undefined> => {
    try {
      const answer = await evalInInstance(client, target, code, {
        format: 'inspect',
        color,
        ...(options.timeout === undefined ? {} : { timeout: options.timeout }),
      });
      if (answer.error) return new Printed(`Uncaught ${answer.error.text}`);
      return answer.text === undefined ? undefined : new Printed(answer.text);
    } catch (err) {
      // The call itself failed (the instance went away, a timeout): said, and the shell goes on.
      return new Printed(`svc: ${err instanceof Error ? err.message : String(err)}`);
    }
  };
  if (!(input as NodeJS.ReadStream).isTTY && options.terminal !== true) {
    await runLines(input, output, run);
    return;
  }
  let queue: Promise<unknown> = Promise.resolve();
  // Imported here: node:repl loads node:domain (see runShell).
  const { Recoverable, start: startRepl } = await import('node:repl');
  const server = startRepl({
    prompt: `svc ${target.id.slice(0, 8)}> `,
    input,
    output,
    ignoreUndefined: true,
    preview: false,
    eval: (code, _context, _file, callback) => {
      if (code.trim() === '') {
        callback(null, undefined);
        return;
      }
      if (incomplete(code)) {
        callback(new Recoverable(new SyntaxError('incomplete input')), undefined);
        return;
      }
      // One input at a time, in the order typed (run never rejects).
      queue = queue.then(() => run(code)).then((printed) => callback(null, printed));
    },
    writer: (value: unknown) => (value instanceof Printed ? (value.text ?? '') : String(value)),
  });
  const rpcSource = clusterCompletion(client);
  const own = instanceCompletion(client, target);
  (server as unknown as { completer: unknown }).completer = (
    line: string,
    cb: (err: Error | null, result?: [string[], string]) => void,
  ) => {
    completeScope(line, rpcSource, own).then(
      (found) => cb(null, found),
      () => cb(null, [[], line]),
    );
  };
  await new Promise<void>((resolve) => server.on('exit', () => resolve()));
  await queue;
}

/**
 * Input that is not a terminal (a pipe, a file): each complete input, in
 * order, one after the other, its value or error written as the REPL
 * would; resolves once the last has been answered.
 */
async function runLines(
  input: NodeJS.ReadableStream,
  output: NodeJS.WritableStream,
  run: (code: string) => Promise<Printed | undefined>,
): Promise<void> {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  let pending = '';
  for await (const line of lines) {
    if (pending === '' && line.trim() === '.exit') break;
    pending = pending === '' ? line : `${pending}\n${line}`;
    if (pending.length > MAX_EVAL_CODE) {
      // An input that never ends (an unclosed string, say) is not held without bound.
      output.write(`svc: an input of more than ${MAX_EVAL_CODE} characters was dropped\n`);
      pending = '';
      continue;
    }
    if (pending.trim() === '' || incomplete(pending)) continue;
    const code = pending;
    pending = '';
    const printed = await run(code);
    if (printed?.text !== undefined) output.write(`${printed.text}\n`);
  }
  lines.close();
  if (pending.trim() !== '') {
    const printed = await run(pending);
    if (printed?.text !== undefined) output.write(`${printed.text}\n`);
  }
}

/** Whether code only lacks its end (an open bracket, string or template): the REPL then reads on. */
export function incomplete(code: string): boolean {
  for (const body of [`return (\n${code}\n);`, code]) {
    try {
      new Script(`(async function () {\n${body}\n})`);
      return false;
    } catch (err) {
      if (!(err instanceof SyntaxError)) return false;
      if (!/Unexpected end of input|Unterminated (template|string)/.test(err.message)) continue;
      if (body === code) return true;
    }
  }
  return false;
}

const IN_SCOPE = ['services', 'containers', 'instance', 'rpc', 'emit', 'context'];

/** `services.Gr` completes to the instance's services, `services.Greeting.g` to its entrypoints. */
async function completeScope(
  line: string,
  rpc: CompletionSource,
  own: CompletionSource,
): Promise<[string[], string]> {
  const viaRpc = await completeRpc(line, rpc);
  if (viaRpc) return viaRpc;
  const renamed = line.replace(/(^|[^\w$.])(services|containers)\./, '$1rpc.');
  const which = /(?:^|[^\w$.])(services|containers)\.[\w$.]*$/.exec(line)?.[1];
  if (which) {
    const found = await completeRpc(renamed, own);
    if (found) {
      // Containers complete to service names only; their fields are not entrypoints.
      if (which === 'containers' && found[1].split('.').length > 2) return [[], line];
      return [
        found[0].map((s) => s.replace(/^rpc\./, `${which}.`)),
        found[1].replace(/^rpc\./, `${which}.`),
      ];
    }
  }
  const word = /[A-Za-z_$][\w$]*$/.exec(line)?.[0] ?? '';
  return [IN_SCOPE.filter((n) => n.startsWith(word) && word !== ''), word];
}

/** The instance's own services, and each one's RPC methods from its `svc.inspect()`. */
function instanceCompletion(client: ClusterClient, target: InstanceTarget): CompletionSource {
  const methods = new Map<string, string[]>();
  return {
    services: () => Promise.resolve(target.services),
    async methods(service) {
      const known = methods.get(service);
      if (known) return known;
      let names: string[] = [];
      if (target.services.includes(service)) {
        try {
          const d = await client.inspect(service, { timeout: 2000, address: target.address });
          names = d.rpc.map((m) => m.name).sort();
        } catch {
          // Unreachable: nothing to complete.
        }
      }
      methods.set(service, names);
      return names;
    },
  };
}
