import { relative } from 'node:path';
import type { Command } from 'commander';
import { typeCheck } from '../check.js';
import { out } from '../util.js';

export default function check(program: Command): Command {
  return program
    .command('check')
    .description('Type-check the project with its own TypeScript (one line per error)')
    .option(
      '-p, --project <path>',
      'a tsconfig.json, or a folder in the project (default: the nearest tsconfig.json above the current folder)',
      '.',
    )
    .addHelpText(
      'after',
      `
Checks every file of the project's tsconfig.json, as tsc --noEmit does, with
the project's own typescript package. Each error is one line on stdout:

  services/web.ts:12:33: error TS2339: Property 'gret' does not exist on type ...

A summary goes to stderr. Exit status: 0 without errors, 1 with type errors,
2 when there is no tsconfig.json or no typescript installed.

svc node --watch runs the same check after each change, beside the reload.`,
    )
    .action((opts: { project: string }) => {
      const result = typeCheck(opts.project);
      for (const line of result.errors) out(line);
      const config = relative(process.cwd(), result.config) || result.config;
      const n = result.errors.length;
      process.stderr.write(
        n === 0
          ? `svc check: no type errors (${config}, ${result.files} files)\n`
          : `svc check: ${n} type error${n === 1 ? '' : 's'} (${config})\n`,
      );
      if (n > 0) process.exitCode = 1;
    });
}
