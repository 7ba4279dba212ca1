import type { Command } from 'commander';
import { commands } from '../commands.js';
import { out } from '../util.js';

export default function list(program: Command): Command {
  return program
    .command('list')
    .description('List available commands')
    .action(() => {
      const all = [
        ...commands,
        { name: 'help', summary: 'Display help information about a command' },
      ];
      const width = Math.max(...all.map((c) => c.name.length));
      for (const c of all) out(`${c.name.padEnd(width + 2)}${c.summary}`);
    });
}
