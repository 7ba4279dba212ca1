/**
 * Every `svc` command: its name and one-line summary. The module of a
 * command is imported only when that command runs (or its help is asked
 * for), so `svc request` does not pay for `svc top`'s terminal library.
 */
export interface CommandEntry {
  name: string;
  summary: string;
  load: () => Promise<{ default: CommandModule }>;
}

import type { Command } from 'commander';

/** A command module adds its command (with options, help and action) to the program. */
export type CommandModule = (program: Command) => Command;

export const commands: readonly CommandEntry[] = [
  {
    name: 'node',
    summary: 'Run every instance listed in .svc.yml (a local cluster)',
    load: () => import('./commands/node.js'),
  },
];
