import type { Command } from 'commander';

/** A command module adds its command (with options, help and action) to the program. */
export type CommandModule = (program: Command) => Command;

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

export const commands: readonly CommandEntry[] = [
  {
    name: 'new',
    summary: 'Create a project: two services, their config, a test',
    load: () => import('./commands/new.js'),
  },
  {
    name: 'instance',
    summary: 'Run a single service instance (one process)',
    load: () => import('./commands/instance.js'),
  },
  {
    name: 'request',
    summary: 'Send a request message to some service and output the reply',
    load: () => import('./commands/request.js'),
  },
  { name: 'emit', summary: 'Manually emits an event', load: () => import('./commands/emit.js') },
  {
    name: 'subscribe',
    summary: 'Prints events to stdout',
    load: () => import('./commands/subscribe.js'),
  },
  {
    name: 'discover',
    summary: 'Show available services',
    load: () => import('./commands/discover.js'),
  },
  {
    name: 'inspect',
    summary: 'Describes the RPC interface of a service',
    load: () => import('./commands/inspect.js'),
  },
  {
    name: 'config',
    summary: 'Print the resolved configuration of an instance',
    load: () => import('./commands/config.js'),
  },
  {
    name: 'node',
    summary: 'Run every instance listed in .svc.yml (a local cluster)',
    load: () => import('./commands/node.js'),
  },
  {
    name: 'check',
    summary: 'Type-check the project with its own TypeScript (one line per error)',
    load: () => import('./commands/check.js'),
  },
  { name: 'list', summary: 'List available commands', load: () => import('./commands/list.js') },
  {
    name: 'tail',
    summary: 'Print the log records of running instances, live or by trace id',
    load: () => import('./commands/tail.js'),
  },
  {
    name: 'top',
    summary: 'Live dashboard of every instance and entrypoint',
    load: () => import('./commands/top.js'),
  },
  {
    name: 'dashboard',
    summary: 'Serve a web page of the running cluster (services, explorer, logs, traces, metrics)',
    load: () => import('./commands/dashboard.js'),
  },
  {
    name: 'shell',
    summary:
      'A REPL connected to the cluster (rpc, emit, discover, inspect), or inside one instance',
    load: () => import('./commands/shell.js'),
  },
  {
    name: 'debug',
    summary: 'Open the Node.js inspector of a running instance (DevTools URL)',
    load: () => import('./commands/debug.js'),
  },
];
