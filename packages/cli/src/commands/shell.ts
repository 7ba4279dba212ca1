import type { Command } from 'commander';
import { SvcError, connect } from '@svc/core';
import { evaluate, formatResult, runShell, shellScope } from '@svc/tail';

interface ShellFlags {
  command?: string;
  timeout?: string;
}

export default function shell(program: Command): Command {
  return program
    .command('shell')
    .description('A REPL connected to the cluster: rpc.Service.method({...}), emit, discover')
    .option('-c, --command <code>', 'evaluate this code (await allowed), print its value, exit')
    .addHelpText(
      'after',
      `
In scope: rpc (rpc.Greeting.greet({ name: 'John' })), emit(type, body),
discover(), inspect(service), client. Top-level await works; Tab completes
service and method names. A streaming method's items are read with
for await (const x of rpc.Numbers.count.stream({ n: 3 })) console.log(x).

Examples:
  svc shell
  svc shell -c 'await rpc.Greeting.greet({ name: "John" })'`,
    )
    .action(async (flags: ShellFlags) => {
      const client = await connect({ name: 'svc-shell' });
      try {
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
          if (err instanceof SvcError) throw err;
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
