import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { connect, type ClusterClient, type ConnectOptions } from '@svc/core';

export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const SVC_BIN = join(REPO, 'packages/cli/bin/svc.js');
export const TOUR = join(REPO, 'examples/lymph-tour');
export const FIXTURES = join(REPO, 'test/fixtures');

/**
 * How long a test waits for an instance it started to say `started`. A start
 * needs about half a second of CPU (0.35-0.5 s for test/fixtures/hostile/
 * target.yml, another 0.5 s in child processes when its TypeScript is compiled
 * first), but its wall time is whatever share of the two cores it gets: beside
 * `svc node` starting fifty instances (test/dashboard/fifty.test.ts) it took
 * 9-11 s with 0.45 s of CPU, and in CI, with Chromium and the other test worker
 * besides, over the 15 s this used to be.
 */
export const START_TIMEOUT_MS = 30_000;

/**
 * `svc inspect`'s text without the built-in `svc.*` methods every instance
 * has: what the service itself declares, line by line.
 */
export function ownInterface(stdout: string): string[] {
  const out: string[] = [];
  let builtin = false;
  for (const line of stdout.trimEnd().split('\n')) {
    if (line.startsWith('rpc svc.')) builtin = true;
    else if (!line.startsWith('    ')) builtin = false;
    if (!builtin) out.push(line);
  }
  return out;
}

/** Fails at once, with what to do, when the CLI has not been built. */
export function requireBuild(): void {
  if (
    !existsSync(join(REPO, 'packages/cli/dist/main.js')) ||
    !existsSync(join(REPO, 'packages/core/dist/index.js'))
  ) {
    throw new Error('the packages are not built: run `npx pnpm build` (npm test does it) first');
  }
}

export interface LogLine {
  time: number;
  level: string;
  msg: string;
  service?: string;
  instance?: string;
  traceId?: string;
  [k: string]: unknown;
}

/** A process started by a test; its output is kept, and JSON log lines parsed. */
export class Proc {
  readonly child: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(child: ChildProcess) {
    this.child = child;
    child.stdout?.setEncoding('utf8').on('data', (d: string) => (this.stdout += d));
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => child.once('exit', (code, signal) => r({ code, signal })));
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Log records the process printed as JSON lines (on stdout or stderr). */
  logs(): LogLine[] {
    const out: LogLine[] = [];
    for (const line of `${this.stderr}\n${this.stdout}`.split('\n')) {
      if (!line.startsWith('{')) continue;
      try {
        out.push(JSON.parse(line) as LogLine);
      } catch {
        // not a record
      }
    }
    return out;
  }

  async waitFor(check: (p: Proc) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      if (this.child.exitCode !== null || this.child.signalCode !== null) {
        throw new Error(
          `process exited (${this.child.exitCode ?? this.child.signalCode}) while waiting for ${what}:\n${this.stderr}\n${this.stdout}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(
          `timed out waiting for ${what} (${usage(this.pid)}):\n${this.stderr}\n${this.stdout}`,
        );
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  hasLog(predicate: (l: LogLine) => boolean): boolean {
    return this.logs().some(predicate);
  }
}

/**
 * A cluster of its own for one test file: a unique cluster name and
 * registry directory, the processes it started, all stopped by `stop()`.
 */
export class TestEnv {
  readonly cluster = `t${randomBytes(4).toString('hex')}`;
  readonly registryDir = mkdtempSync(join(tmpdir(), 'svc-e2e-'));
  readonly procs = new Set<Proc>();

  env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    return {
      ...process.env,
      SVC_CLUSTER: this.cluster,
      SVC_LOCAL_REGISTRY_DIR: this.registryDir,
      SVC_LOG_FORMAT: 'json',
      NO_COLOR: '1',
      ...extra,
    };
  }

  /** Spawns `svc ARGS` in `cwd`. */
  spawn(args: string[], options: { cwd?: string; env?: Record<string, string> } = {}): Proc {
    const child = spawn(process.execPath, [SVC_BIN, ...args], {
      cwd: options.cwd ?? TOUR,
      env: this.env(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new Proc(child);
    this.procs.add(proc);
    void proc.exited.then(() => this.procs.delete(proc));
    return proc;
  }

  /** Starts `svc instance --config FILE` and waits until it has registered. */
  async instance(
    config: string,
    options: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<Proc> {
    const proc = this.spawn(['instance', '--config', config], options);
    await proc.waitFor(
      (p) => p.hasLog((l) => l.msg.startsWith('started ')),
      `${config} to start`,
      START_TIMEOUT_MS,
    );
    return proc;
  }

  /** Runs `svc ARGS` to completion. */
  async run(
    args: string[],
    options: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const proc = this.spawn(args, options);
    const { code } = await proc.exited;
    return { code, stdout: proc.stdout, stderr: proc.stderr };
  }

  /**
   * A client in the test's own process, on this cluster (real transports),
   * typed by `M`: `env.client<{ Greeting: Greeting }>()`.
   */
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no typed service
  async client<M extends object = {}>(options: ConnectOptions = {}): Promise<ClusterClient<M>> {
    process.env['SVC_LOCAL_REGISTRY_DIR'] = this.registryDir;
    return connect<M>({ cluster: this.cluster, name: 'test-client', ...options });
  }

  async stop(): Promise<void> {
    const all = [...this.procs];
    for (const p of all) p.child.kill('SIGTERM');
    await Promise.race([
      Promise.all(all.map((p) => p.exited)),
      new Promise((r) => setTimeout(r, 5000)),
    ]);
    for (const p of all)
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    rmSync(this.registryDir, { recursive: true, force: true });
  }
}

/**
 * What a process waited on was using, for a timeout's message: its CPU time
 * so far and the machine's load, which tell a starved process (little CPU, a
 * high load) from a stuck one (little CPU, an idle machine) or a busy one.
 */
function usage(pid: number): string {
  try {
    const load = readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');
    return `it used ${cpuMs(pid)} ms of CPU; load average ${load}`;
  } catch {
    return 'its CPU time is unknown';
  }
}

/** CPU time (user + system) a live process has used so far, in ms (Linux's /proc). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // After the command's closing parenthesis: the state, ..., then utime and stime, in
  // Linux's clock ticks of 10 ms (USER_HZ).
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
