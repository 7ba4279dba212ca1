import type { EventMessage } from '@svc/core';
import type { Command } from 'commander';
import { clientFor, clusterOptions, out, type ClusterOptions } from '../util.js';

export function formatEvent(e: EventMessage): string {
  const time = new Date().toISOString().slice(11, 23);
  return `${time} ${e.type} from ${e.source} [${e.headers.traceId.slice(0, 10)}] ${JSON.stringify(e.body)}`;
}

export default function subscribe(program: Command): Command {
  return clusterOptions(
    program
      .command('subscribe')
      .description('Prints events to stdout')
      .argument('<types...>', 'event types to print')
      .option('--json', 'print each event as one JSON object a line'),
  ).action(async (types: string[], opts: ClusterOptions & { json?: boolean }) => {
    const client = await clientFor(opts);
    await client.subscribe(types, (e) => out(opts.json ? JSON.stringify(e) : formatEvent(e)));
    process.stderr.write(`listening for ${types.join(', ')} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    await client.close();
  });
}
