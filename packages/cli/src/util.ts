import {
  RemoteError,
  UnknownServiceError,
  UsageError,
  connect,
  loadInstanceConfig,
  toWireError,
  type ClusterClient,
} from '@svc/core';
import { escapeControl, parseJsonSafe } from '@svc/core/internal';
import { InvalidArgumentError, Option, type Command } from 'commander';

/** What `svc discover` and `svc top --once` say of a cluster with no instance registered. */
export const NO_SERVICES = 'no services are running in this cluster';

/** Options every command that talks to a cluster takes. */
export interface ClusterOptions {
  config?: string;
  cluster?: string;
  registry?: string;
  rpc?: string;
  events?: string;
  timeout?: number;
}

/** Adds the options that choose which cluster to talk to, and how. */
export function clusterOptions(cmd: Command): Command {
  return cmd
    .option('--config <file>', 'take cluster, registry, rpc and events from this instance config')
    .addOption(new Option('--cluster <name>', 'cluster name').env('SVC_CLUSTER'))
    .addOption(
      new Option('--registry <url>', 'registry: local | zookeeper://host:2181/root').env(
        'SVC_REGISTRY',
      ),
    )
    .addOption(new Option('--rpc <url>', 'RPC transport: net | zmq | amqp://...').env('SVC_RPC'))
    .addOption(
      new Option('--events <url>', 'events backend: local | amqp://...').env('SVC_EVENTS'),
    );
}

/** Connects as the options say: explicit options win over the config file, which wins over defaults. */
export async function clientFor(opts: ClusterOptions, name = 'svc-cli'): Promise<ClusterClient> {
  const fromFile = opts.config ? loadInstanceConfig(opts.config) : undefined;
  const pick = (flag: string | undefined, file: string | undefined) => flag ?? file;
  const cluster = pick(opts.cluster, fromFile?.cluster);
  const registry = pick(opts.registry, fromFile?.registry);
  const rpc = pick(opts.rpc, fromFile?.rpc);
  const events = pick(opts.events, fromFile?.events);
  return connect({
    name,
    ...(cluster ? { cluster } : {}),
    ...(registry ? { registry } : {}),
    ...(rpc ? { rpc } : {}),
    ...(events ? { events } : {}),
    ...(opts.timeout ? { timeout: opts.timeout } : {}),
    ...(fromFile?.security ? { security: fromFile.security } : {}),
  });
}

/**
 * What a failed call of `service` says on the command line. No live instance
 * of the service asked for is the user's (a typo, or it is not started): said
 * with the services that do run. The same error met by the called method
 * itself (a call it made to a service that is not running) comes back over
 * the wire without its service: that is the method's failure, a remote error
 * (exit 1), not a mistake in the command line.
 */
export async function explainCallError(
  err: unknown,
  client: ClusterClient,
  service: string,
): Promise<unknown> {
  if (!(err instanceof UnknownServiceError)) return err;
  if (err.service === undefined) return nestedAsRemote(err);
  if (err.service !== service) return err;
  let running: string[];
  // Names read from the registry, shown escaped as every name from the cluster is.
  try {
    running = [...(await client.discover()).keys()].sort();
  } catch {
    return err;
  }
  const known =
    running.length === 0
      ? 'no service is running in this cluster'
      : `running: ${running.map((name) => escapeControl(name)).join(', ')}`;
  return new UnknownServiceError(`${err.message} (${known})`, { service, cause: err });
}

/**
 * An UnknownServiceError that came back over the wire (it has no `service`:
 * the called method met it on a call of its own) as the remote error it is;
 * any other error as it is.
 */
export function nestedAsRemote(err: unknown): unknown {
  return err instanceof UnknownServiceError && err.service === undefined
    ? new RemoteError(toWireError(err))
    : err;
}

/** Runs `fn` with a connected client and always closes it. */
export async function withClient<T>(
  opts: ClusterOptions,
  fn: (client: ClusterClient) => Promise<T>,
): Promise<T> {
  const client = await clientFor(opts);
  try {
    return await fn(client);
  } finally {
    await client.close();
  }
}

/** Parses a JSON argument from the command line, or says clearly why it is not JSON. */
export function parseJsonArg(
  text: string | undefined,
  what: string,
  fallback: unknown = {},
): unknown {
  if (text === undefined) return fallback;
  try {
    return parseJsonSafe(text);
  } catch (err) {
    throw new UsageError(`${what} is not valid JSON (${(err as Error).message}): ${text}`);
  }
}

/** commander argument parser for a positive integer of milliseconds. */
export function milliseconds(value: string): number {
  if (!/^\d+$/.test(value) || Number(value) <= 0) {
    throw new InvalidArgumentError('expected a positive number of milliseconds');
  }
  return Number(value);
}

/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}
