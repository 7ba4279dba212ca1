import type { Command } from 'commander';
import { SvcError, connect, type ClusterClient } from '@svc/core';
import {
  evalInInstance,
  evaluate,
  findInstance,
  formatResult,
  runRemoteShell,
  runShell,
  shellScope,
} from '@svc/tail';
import { milliseconds, nestedAsRemote } from '../util.js';

interface ShellFlags {
  command?: string;
  instance?: string;
  timeout?: number;
}

export default function shell(program: Command): Command {
  return program
    .command('shell')
    .description('A REPL connected to the cluster: rpc.Service.method({...}), emit, discover')
    .option('-c, --command <code>', 'evaluate this code (await allowed), print its value, exit')
    .option(
      '-i, --instance <id>',
      'run the code inside this running instance (its config must say debug: { shell: true })',
    )
    .option(
      '--timeout <ms>',
      'with --instance: how long each input may run (default 30000)',
      milliseconds,
    )
    .addHelpText(
      'after',
      `
In scope: rpc (rpc.Greeting.greet({ name: 'John' })), emit(type, body),
discover(), inspect(service), client. Top-level await works; Tab completes
service and method names. A streaming method's items are read with
for await (const x of rpc.Numbers.count.stream({ n: 3 })) console.log(x).

With --instance ID (an id from svc discover --instances or svc top; a
unique prefix will do), each input runs inside that instance's process,
like Nameko's backdoor. In scope there: services (services.Greeting.greet({
name: 'John' }) runs the method as a real worker of that instance, with its
dependencies), containers (each service's container: config, providers,
log), instance, rpc and emit (calls made from the instance), context (the
worker context the input runs in). The instance answers only when its
config says  debug: { shell: true }  (off by default); each input may run
--timeout ms and its printed value is cut at 256 KiB.

Examples:
  svc shell
  svc shell -c 'await rpc.Greeting.greet({ name: "John" })'
  svc shell --instance 3f2a9c1e
  svc shell --instance 3f2a9c1e -c 'await services.Greeting.greet({ name: "John" })'`,
    )
    .action(async (flags: ShellFlags) => {
      const client = await connect({ name: 'svc-shell' });
      try {
        if (flags.instance !== undefined) {
          await inInstance(client, flags.instance, flags);
          return;
        }
        if (flags.command === undefined) {
          await runShell({
            client,
            banner: `svc shell on cluster "${process.env['SVC_CLUSTER'] ?? 'default'}": rpc, emit, discover, inspect, client (Tab completes, .exit quits)`,
          });
          return;
        }
        let value: unknown;
        try {
          value = await evaluate(flags.command, shellScope(client));
        } catch (err) {
          if (err instanceof SvcError) throw nestedAsRemote(err);
          // The user's code failed (a typo, a TypeError): show it as they wrote it, not as a bug of svc.
          const e = err instanceof Error ? err : new Error(String(err));
          process.stderr.write(`svc shell: ${e.name}: ${e.message}\n`);
          process.exitCode = 1;
          return;
        }
        const text = formatResult(value, Boolean(process.stdout.isTTY));
        if (text !== undefined) process.stdout.write(`${text}\n`);
      } finally {
        await client.close();
      }
    });
}

/** `svc shell --instance ID [-c code]`: the same, evaluated inside one running instance. */
async function inInstance(client: ClusterClient, id: string, flags: ShellFlags): Promise<void> {
  const target = await findInstance(client, id);
  const timeout = flags.timeout === undefined ? {} : { timeout: flags.timeout };
  if (flags.command === undefined) {
    await runRemoteShell({
      client,
      target,
      ...timeout,
      banner: `svc shell inside instance ${target.id} (${target.services.join(', ')}, pid ${target.pid} on ${target.host}): services, containers, instance, rpc, emit, context (Tab completes, .exit quits)`,
    });
    return;
  }
  const answer = await evalInInstance(client, target, flags.command, {
    ...timeout,
    format: 'json',
    color: Boolean(process.stdout.isTTY),
  });
  if (answer.error) {
    // The code's own error, as the local shell shows one: its name and message.
    process.stderr.write(`svc shell: ${answer.error.name}: ${answer.error.message}\n`);
    process.exitCode = 1;
    return;
  }
  if (answer.text !== undefined) process.stdout.write(`${answer.text}\n`);
}
