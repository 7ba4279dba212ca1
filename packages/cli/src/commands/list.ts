import type { Command } from 'commander';
import { commands } from '../commands.js';
import { out } from '../util.js';

export default function list(program: Command): Command {
  return program
    .command('list')
    .description('List available commands')
    .action(() => {
      const width = Math.max(...commands.map((c) => c.name.length));
      for (const c of commands) out(`${c.name.padEnd(width + 2)}${c.summary}`);
    });
}
