import { existsSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '@svc/core';
import { escapeControl } from '@svc/core/internal';
import { controlRequest, runNode, type NodeStatus } from '@svc/node';
import type { Command } from 'commander';
import { precompile } from '../typescript.js';

const DEFAULT_CONFIG = '.svc.yml';

/**
 * `svc node` without `--config` in a folder with no `.svc.yml` (a project's
 * `services/`, say): says so, and where the nearest one above is.
 */
function requireDefaultConfig(): void {
  const here = process.cwd();
  if (existsSync(join(here, DEFAULT_CONFIG))) return;
  for (let dir = dirname(here); dir !== dirname(dir); dir = dirname(dir)) {
    if (!existsSync(join(dir, DEFAULT_CONFIG))) continue;
    const rel = relative(here, join(dir, DEFAULT_CONFIG));
    throw new UsageError(
      `no ${DEFAULT_CONFIG} in ${here}; there is one in ${dir}: run svc node there, or pass --config ${rel}`,
    );
  }
  throw new UsageError(
    `no ${DEFAULT_CONFIG} in ${here}: svc node runs the cluster that file lists (see svc node --help); run it in the project's folder, or pass --config FILE`,
  );
}

function number(flag: string, min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+(\.\d+)?$/.test(value.trim()) || !Number.isFinite(n) || n < min) {
      throw new UsageError(`${flag}: expected a number >= ${min}, got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

function formatUptime(ms: number | null): string {
  if (ms === null) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

const HELP = `
The file (.svc.yml in the current folder unless --config says otherwise):
  instances:
    Web:      { command: svc instance --config=conf/web.yml, numprocesses: 2 }
    Redis:    { command: redis-server --port 6380, cwd: var, env: { LANG: C } }
  sockets:
    Web: { port: 4080, host: 127.0.0.1 }
  metrics: { port: 9464 }

  instances.NAME.command       any command line; words are split like a shell
                               does; pipes, $VARS or globs run through sh -c
  instances.NAME.numprocesses  how many processes (default 1)
  instances.NAME.env           extra environment variables
  instances.NAME.cwd           working folder, relative to the config file
  sockets.NAME.port/host       one TCP socket bound by the supervisor and
                               shared by every process of instance NAME
  metrics.port/host            serve the whole cluster's Prometheus metrics
                               (/metrics), /healthz and /readyz there (host
                               default 127.0.0.1); each process's series are
                               labelled node_instance and node_index
  String values may use \${VAR} and \${VAR:-default}.

Every child gets SVC_NODE=1, SVC_CLUSTER, SVC_INSTANCE_NAME,
SVC_INSTANCE_INDEX (0-based) and SVC_READY_FD=4 (write "ready\\n" there once
serving, as svc instance does; any other child that never does counts as
ready after --ready-delay). With a
socket of its instance's name: SVC_SOCKET_FD=3 and SVC_SOCKET_PORT (call
server.listen({ fd: 3 })).

A crashed process restarts after --backoff ms, doubled after each crash within
--min-uptime of its start; after --max-crashes such crashes in a row it is held
off until \`svc node restart NAME\`; one that exits with status 2 (a config or
usage error) before it is ready is held off at once. Ctrl-C (or SIGTERM) stops
every process: SIGTERM, then SIGKILL after --grace seconds; a second Ctrl-C
kills at once.
If the supervisor is killed, a watchdog process kills its children.

Examples:
  svc node                      run the cluster of ./.svc.yml
  svc node --watch              and reload instances whose files change; each
                                change also runs svc check on the instance's
                                project (its nearest tsconfig.json) beside the
                                reload, and prints its errors, one a line
  svc node status               from another terminal: every process
  svc node restart Web          rolling restart of Web's processes
`;

interface RunOptions {
  config: string;
  watch?: boolean;
  check: boolean;
  grace: number;
  readyDelay: number;
  backoff: number;
  minUptime: number;
  maxCrashes: number;
}

/** `svc node`: the local cluster supervisor, and its `status` and `restart` controls. */
export default function register(program: Command): Command {
  const node = program
    .command('node')
    .description('Run every instance listed in .svc.yml (a local cluster)')
    // `svc node status --config X`: the subcommand's own --config, not the supervisor's.
    .enablePositionalOptions()
    .option('-c, --config <file>', 'the cluster file', DEFAULT_CONFIG)
    .option(
      '-w, --watch',
      'restart an instance (one process at a time) when a file in its folder changes, and type-check its project',
    )
    .option('--no-check', 'with --watch: do not type-check')
    .option(
      '--grace <seconds>',
      'how long stopping processes get before SIGKILL',
      number('--grace', 0),
      5,
    )
    .option(
      '--ready-delay <ms>',
      'a process that never writes "ready" counts as ready after this long',
      number('--ready-delay', 0),
      1500,
    )
    .option(
      '--backoff <ms>',
      'delay before the first restart of a crashed process',
      number('--backoff', 0),
      250,
    )
    .option(
      '--min-uptime <ms>',
      'a process dying sooner than this after its start crashed quickly',
      number('--min-uptime', 0),
      3000,
    )
    .option(
      '--max-crashes <n>',
      'quick crashes in a row before a process is held off',
      number('--max-crashes', 1),
      5,
    )
    .addHelpText('after', HELP)
    .action(async (opts: RunOptions) => {
      if (opts.config === DEFAULT_CONFIG) requireDefaultConfig();
      const svcBin = fileURLToPath(new URL('../../bin/svc.js', import.meta.url));
      const code = await runNode({
        configFile: opts.config,
        watch: opts.watch === true,
        typeCheck: opts.check,
        graceMs: Math.round(opts.grace * 1000),
        readyDelayMs: opts.readyDelay,
        backoffMs: opts.backoff,
        minUptimeMs: opts.minUptime,
        maxCrashes: Math.floor(opts.maxCrashes),
        svcCommand: [process.execPath, svcBin],
        color: process.stdout.isTTY === true && !process.env.NO_COLOR,
        // TypeScript service files compiled once here, not once per process.
        prepare: precompile,
      });
      // Children, sockets and the watchdog are closed; nothing else may keep us alive.
      process.exit(code);
    });

  node
    .command('status')
    .description(
      'list every process of the running svc node: name, index, pid, state, restarts, uptime, and why a held one is held',
    )
    .option('-c, --config <file>', 'the cluster file of that node', DEFAULT_CONFIG)
    .option('--json', 'print the status as JSON')
    .action(async (opts: { config: string; json?: boolean }) => {
      const status = (await controlRequest(opts.config, { cmd: 'status' })) as NodeStatus;
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(status, null, 2)}\n`);
        return;
      }
      const rows = [['NAME', 'INDEX', 'PID', 'STATE', 'RESTARTS', 'UPTIME']];
      for (const p of status.processes) {
        rows.push([
          p.name,
          String(p.index),
          p.pid === null ? '-' : String(p.pid),
          p.state,
          String(p.restarts),
          formatUptime(p.uptimeMs),
        ]);
      }
      const sockets = status.sockets.map((s) => `${s.name} on ${s.host}:${s.port}`).join(', ');
      process.stdout.write(
        `svc node (pid ${status.pid}) running ${status.config}${sockets ? `; sockets: ${sockets}` : ''}\n`,
      );
      process.stdout.write(`${table(rows)}\n`);
      // Why a held process is held, and what to do, under the table (a row would be too wide).
      for (const p of status.processes) {
        if (p.reason !== undefined)
          // The reason quotes the process's own last line: shown, never obeyed by the terminal.
          process.stdout.write(`${p.name}.${p.index} is held: ${escapeControl(p.reason)}\n`);
      }
    });

  node
    .command('restart')
    .description(
      'restart every process of an instance, one at a time (new one ready before the old one stops)',
    )
    .argument('<name>', 'the instance name, as in .svc.yml')
    .option('-c, --config <file>', 'the cluster file of that node', DEFAULT_CONFIG)
    .action(async (name: string, opts: { config: string }) => {
      await controlRequest(opts.config, { cmd: 'restart', name });
      process.stdout.write(`restarted ${name}\n`);
    });

  return node;
}
