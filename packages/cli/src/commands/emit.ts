import type { Command } from 'commander';
import {
  clusterOptions,
  milliseconds,
  parseJsonArg,
  withClient,
  type ClusterOptions,
} from '../util.js';

export default function emit(program: Command): Command {
  return clusterOptions(
    program
      .command('emit')
      .description('Manually emits an event')
      .argument('<type>', 'event type, e.g. greeted')
      .argument('[body]', 'event body as JSON', '{}')
      .option('--delay <ms>', 'deliver after this many milliseconds', milliseconds)
      .option(
        '--source <service>',
        'emit as this source service (Nameko handlers bound to a source)',
        'svc-cli',
      )
      .addHelpText('after', `\nExample:\n  svc emit greeted '{"name": "Flynne"}'`),
  ).action(
    async (
      type: string,
      bodyText: string,
      opts: ClusterOptions & { delay?: number; source: string },
    ) => {
      const body = parseJsonArg(bodyText, 'body');
      await withClient(opts, (client) =>
        client.emit(type, body, {
          source: opts.source,
          ...(opts.delay ? { delay: opts.delay } : {}),
        }),
      );
    },
  );
}
