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
    name: 'tail',
    summary: 'print the log records of running instances, live or by trace id',
    load: () => import('./commands/tail.js'),
  },
  {
    name: 'top',
    summary: 'live dashboard of every instance and entrypoint',
    load: () => import('./commands/top.js'),
  },
  {
    name: 'shell',
    summary: 'a REPL connected to the cluster (rpc, emit, discover, inspect)',
    load: () => import('./commands/shell.js'),
  },
];
