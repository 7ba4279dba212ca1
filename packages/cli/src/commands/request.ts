import { UsageError } from '@svc/core';
import type { Command } from 'commander';
import { inspect } from 'node:util';
import {
  clusterOptions,
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
      .option('--timeout <ms>', 'fail after this many milliseconds', milliseconds, 5000)
      .option(
        '--address <endpoint>',
        'call this instance (an endpoint from `svc discover --instances`)',
      )
      .option('--json', 'print the result as JSON')
      .addHelpText('after', `\nExample:\n  svc request Greeting.greet '{"name": "Flynne"}'`),
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
      const result = await withClient(opts, (client) =>
        client.call(service, method, params, {
          timeout: opts.timeout,
          ...(opts.address ? { address: opts.address } : {}),
        }),
      );
      out(
        opts.json
          ? JSON.stringify(result ?? null)
          : inspect(result, { depth: 8, colors: Boolean(process.stdout.isTTY) }),
      );
    },
  );
}
