import { UsageError } from '@svc/core';
import { Command, CommanderError } from 'commander';
import { commands } from './commands.js';
import { reportError } from './errors.js';
import { cliVersion } from './version.js';

function baseProgram(): Command {
  return (
    new Command('svc')
      .description('Run, test and operate svc services')
      .version(cliVersion(), '-V, --version')
      .showSuggestionAfterError(true)
      // Options belong to the command they follow (`svc node status --config X`).
      .enablePositionalOptions()
      .exitOverride()
      .configureOutput({ writeErr: (s) => process.stderr.write(s) })
  );
}

/**
 * Runs the `svc` command line. Only the module of the command being run is
 * loaded; the full list (for `svc --help`) uses the summaries alone.
 */
export async function main(argv: readonly string[]): Promise<void> {
  const program = baseProgram();
  const args = argv.slice(2);
  const first = args.find((a) => !a.startsWith('-'));
  const wanted =
    first === 'help' && args[1] && !args[1].startsWith('-')
      ? commands.find((c) => c.name === args[1])
      : commands.find((c) => c.name === first);
  try {
    const asked = first === 'help' ? args[1] : undefined;
    if (asked !== undefined && !asked.startsWith('-') && asked !== 'help' && !wanted)
      throw new UsageError(`no command "${asked}" (svc list shows every command)`);
    if (wanted) {
      const mod = await wanted.load();
      mod.default(program).exitOverride();
    } else {
      for (const c of commands) program.command(c.name).description(c.summary);
    }
    program.addHelpCommand('help [command]', 'show help for a command');
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has printed its own message (or the help/version text).
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    process.exitCode = reportError(err, (line) => process.stderr.write(`${line}\n`));
  }
}
