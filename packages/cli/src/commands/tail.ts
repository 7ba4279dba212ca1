import type { Command } from 'commander';
import { UsageError, connect, type LogLevel } from '@svc/core';
import { runTail } from '@svc/tail';

interface TailFlags {
  level?: string;
  grep?: string;
  trace?: string;
  json?: boolean;
  follow: boolean;
  color: boolean;
}

export default function tail(program: Command): Command {
  return program
    .command('tail')
    .description('Print the log records of running instances as they come, one line each')
    .argument('[services...]', 'services to follow (default: every service)')
    .option('-l, --level <level>', 'lowest level shown: debug, info, warn, error')
    .option('-g, --grep <text>', 'only records whose message or fields contain this text')
    .option(
      '-t, --trace <id>',
      "only this trace's records; first those the instances still hold, as a tree of calls",
    )
    .option('--json', 'raw records, one JSON object a line')
    .option('--no-follow', 'with --trace: print the records held so far and exit')
    .option('--no-color', 'no colours, even on a terminal')
    .addHelpText(
      'after',
      `
Lines read: time, service/instance, level, trace id (first 12 characters;
--trace accepts them), message, duration, other fields. New instances are
picked up within a second; stopped ones are dropped.

Examples:
  svc tail Greeting Listen Web
  svc tail --level warn
  svc tail --trace 4b1c2d3e5f6a --no-follow`,
    )
    .action(async (services: string[], flags: TailFlags) => {
      if (!flags.follow && flags.trace === undefined)
        throw new UsageError('--no-follow needs --trace (without it there is nothing to print)');
      const client = await connect({ name: 'svc-tail' });
      const abort = new AbortController();
      const stop = () => abort.abort();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      // A closed pipe (`svc tail | head`) ends tail quietly.
      process.stdout.on('error', stop);
      try {
        await runTail({
          client,
          services,
          ...(flags.level === undefined ? {} : { level: flags.level as LogLevel }),
          ...(flags.grep === undefined ? {} : { grep: flags.grep }),
          ...(flags.trace === undefined ? {} : { trace: flags.trace }),
          json: flags.json ?? false,
          follow: flags.follow,
          color: flags.color && Boolean(process.stdout.isTTY) && !process.env['NO_COLOR'],
          write: (line) => {
            if (!abort.signal.aborted) process.stdout.write(`${line}\n`);
          },
          notice: (line) => process.stderr.write(`svc tail: ${line}\n`),
          signal: abort.signal,
        });
      } finally {
        process.off('SIGINT', stop);
        process.off('SIGTERM', stop);
        await client.close();
      }
    });
}
