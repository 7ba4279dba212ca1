import { UsageError, type CallOptions, type ClusterClient } from '@svc/core';
import type { Command } from 'commander';
import { once } from 'node:events';
import { inspect } from 'node:util';
import {
  clusterOptions,
  explainCallError,
  milliseconds,
  out,
  parseJsonArg,
  withClient,
  type ClusterOptions,
} from '../util.js';

/** Splits `Greeting.greet` (or `Greeting.svc.ping`) at its first dot. */
export function parseTarget(target: string): { service: string; method: string } {
  const dot = target.indexOf('.');
  if (dot <= 0 || dot === target.length - 1) {
    throw new UsageError(`expected Service.method (like Greeting.greet), got "${target}"`);
  }
  return { service: target.slice(0, dot), method: target.slice(dot + 1) };
}

export default function request(program: Command): Command {
  return clusterOptions(
    program
      .command('request')
      .description('Send a request message to some service and output the reply')
      .argument('<Service.method>', 'what to call, e.g. Greeting.greet')
      .argument('[params]', 'parameters as a JSON object', '{}')
      .option(
        '--timeout <ms>',
        'fail after this many milliseconds (for a stream: the whole stream)',
        milliseconds,
        5000,
      )
      .option(
        '--address <endpoint>',
        'call this instance (an endpoint from `svc discover --instances`)',
      )
      .option('--json', 'print the result as JSON (a stream: one JSON line per item)')
      .addHelpText(
        'after',
        `
A streaming method (async *) has its items printed as they come, one per line.

Examples:
  svc request Greeting.greet '{"name": "Flynne"}'
  svc request Numbers.count '{"n": 3}' --json`,
      ),
  ).action(
    async (
      target: string,
      paramsText: string,
      opts: ClusterOptions & { timeout: number; address?: string; json?: boolean },
    ) => {
      const { service, method } = parseTarget(target);
      const params = parseJsonArg(paramsText, 'params');
      if (typeof params !== 'object' || params === null || Array.isArray(params)) {
        throw new UsageError(`params must be a JSON object (keyword arguments), got ${paramsText}`);
      }
      const options: CallOptions = {
        timeout: opts.timeout,
        ...(opts.address ? { address: opts.address } : {}),
      };
      const colors = Boolean(process.stdout.isTTY);
      await withClient(opts, async (client) => {
        let result: unknown;
        try {
          result = await client.call(service, method, params, options);
        } catch (err) {
          if (!streamsItsResults(err)) throw await explainCallError(err, client, service);
          await printStream(client, service, method, params, options, opts.json === true);
          return;
        }
        out(opts.json ? JSON.stringify(result ?? null) : inspect(result, { depth: 8, colors }));
      });
    },
  );
}

/** Whether a call was refused because its method streams (it did not run). */
function streamsItsResults(err: unknown): boolean {
  if (!(err instanceof UsageError)) return false;
  const data = err.data as { stream?: unknown } | undefined;
  return data?.stream === true;
}

/**
 * Prints a stream's items as they come, one a line. A stdout that does not
 * keep up (a slow pipe) is waited for, so the producer is slowed down too.
 */
async function printStream(
  client: ClusterClient,
  service: string,
  method: string,
  params: object,
  options: CallOptions,
  json: boolean,
): Promise<void> {
  const colors = Boolean(process.stdout.isTTY);
  for await (const item of client.stream(service, method, params, options)) {
    const line = json
      ? JSON.stringify(item ?? null)
      : inspect(item, { depth: 8, colors, breakLength: Infinity });
    if (!process.stdout.write(`${line}\n`)) await once(process.stdout, 'drain');
  }
}
