import type { Readable } from 'node:stream';
import { execa } from 'execa';
import type { InstanceConfig } from './config.js';
import { LineSplitter } from './output.js';

/** The descriptor a child inherits for its instance's shared socket (`SVC_SOCKET_FD`). */
export const SOCKET_FD = 3;
/** The descriptor a child writes `ready\n` to once it serves (`SVC_READY_FD`). */
export const READY_FD = 4;

/** How one process of an instance ended. */
export interface ExitInfo {
  code: number | undefined;
  signal: string | undefined;
  /** set when the command could not be started at all (ENOENT, EACCES) */
  error: string | undefined;
}

/** How a process ended, for a line of `svc node`'s output: `exited with code 3`. */
export function describeExit(info: ExitInfo): string {
  if (info.error !== undefined) return `could not start (${info.error})`;
  if (info.signal !== undefined) return `was killed by ${info.signal}`;
  return `exited with code ${info.code ?? '?'}`;
}

/** One running process of an instance. */
export interface ChildProcess {
  readonly pid: number;
  readonly startedAt: number;
  /** resolves once the child wrote `ready` (true), or false when it exited first */
  readonly announced: Promise<boolean>;
  readonly exited: Promise<ExitInfo>;
  readonly hasExited: () => boolean;
  /** signals the child's whole process group; false when it is already gone */
  signal(sig: NodeJS.Signals): boolean;
}

export interface SpawnOptions {
  instance: InstanceConfig;
  index: number;
  cluster: string;
  socket: { fd: number; port: number } | undefined;
  /** replaces a leading `svc` word of the command (the CLI running this supervisor) */
  svcCommand: readonly string[] | undefined;
  onLine(stream: 'stdout' | 'stderr', line: string): void;
}

/** The environment every child gets: its own, the instance's `env:`, and svc's contract. */
export function childEnv(
  opts: Pick<SpawnOptions, 'instance' | 'index' | 'cluster' | 'socket'>,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined) env[k] = v;
  // A supervisor started from inside a child must not leak its parent's socket.
  delete env.SVC_SOCKET_FD;
  delete env.SVC_SOCKET_PORT;
  // One port cannot serve several processes: an instance's own metrics port
  // comes from its config or its `env:`, the cluster's from `metrics:`.
  delete env.SVC_METRICS_PORT;
  env.SVC_CLUSTER = opts.cluster;
  // Children write to a pipe; the supervisor's reader is a person, so svc
  // instances log human lines (coloured when the supervisor's output is a terminal).
  env.SVC_LOG_FORMAT ??= 'pretty';
  env.SVC_LOG_COLOR ??= process.stdout.isTTY && !process.env.NO_COLOR ? '1' : '0';
  Object.assign(env, opts.instance.env);
  env.SVC_NODE = '1';
  env.SVC_INSTANCE_NAME = opts.instance.name;
  env.SVC_INSTANCE_INDEX = String(opts.index);
  env.SVC_READY_FD = String(READY_FD);
  if (opts.socket) {
    env.SVC_SOCKET_FD = String(SOCKET_FD);
    env.SVC_SOCKET_PORT = String(opts.socket.port);
  }
  return env;
}

function argv(opts: SpawnOptions): [string, string[]] {
  const p = opts.instance.parsed;
  if (p.kind === 'shell') return ['/bin/sh', ['-c', p.script]];
  if (p.file === 'svc' && opts.svcCommand && opts.svcCommand.length > 0) {
    const [file, ...rest] = opts.svcCommand as [string, ...string[]];
    return [file, [...rest, ...p.args]];
  }
  return [p.file, p.args];
}

/**
 * Starts one process of an instance in its own process group (so that a
 * signal reaches everything it started), with the shared socket at fd 3 and a
 * readiness pipe at fd 4. Resolves to how it ended when it could not start.
 */
export async function spawnChild(opts: SpawnOptions): Promise<ChildProcess | ExitInfo> {
  const [file, args] = argv(opts);
  // execa's types list only descriptors 3 to 9, but it hands any number to
  // Node's spawn unchanged, which duplicates that descriptor into the child.
  const socketFd = (opts.socket ? opts.socket.fd : 'ignore') as 3 | 'ignore';
  const sub = execa(file, args, {
    cwd: opts.instance.cwd,
    env: childEnv(opts),
    extendEnv: false,
    detached: true,
    cleanup: false,
    reject: false,
    buffer: false,
    stripFinalNewline: false,
    stdio: ['ignore', 'pipe', 'pipe', socketFd, 'pipe'],
  });
  const pid = sub.pid;
  let exited = false;
  const exitedP: Promise<ExitInfo> = sub.then((r) => {
    exited = true;
    const failedToStart = r.failed && r.exitCode === undefined && r.signal === undefined;
    return {
      code: r.exitCode,
      signal: r.signal,
      error: failedToStart ? (r.originalMessage ?? r.shortMessage) : undefined,
    };
  });
  if (pid === undefined) return exitedP;

  for (const stream of ['stdout', 'stderr'] as const) {
    const splitter = new LineSplitter((line) => opts.onLine(stream, line));
    const s = sub[stream];
    s.on('data', (d: Buffer) => splitter.push(d));
    s.on('end', () => splitter.end());
    s.on('error', () => splitter.end());
  }
  const readyStream = sub.stdio[READY_FD] as Readable | undefined;
  const announced = new Promise<boolean>((resolve) => {
    if (!readyStream) return resolve(false);
    let text = '';
    readyStream.setEncoding('utf8');
    readyStream.on('data', (d: string) => {
      text += d;
      if (/(^|\n)ready(\r?\n|$)/.test(text)) resolve(true);
      if (text.length > 1024) text = text.slice(-16);
    });
    readyStream.on('error', () => {});
    void exitedP.then(() => resolve(false));
  });

  return {
    pid,
    startedAt: Date.now(),
    announced,
    exited: exitedP,
    hasExited: () => exited,
    signal(sig) {
      try {
        process.kill(-pid, sig);
        return true;
      } catch {
        return false;
      }
    },
  };
}
