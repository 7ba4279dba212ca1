import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { controlRequest, controlSocketPath, type NodeStatus } from '@svc/node';

const here = dirname(fileURLToPath(import.meta.url));
export const SVC = resolve(here, '../../packages/cli/bin/svc.js');
export const fixture = (name: string) => join(here, 'fixtures', name);

/** A port nobody listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  await new Promise((r) => server.close(r));
  return port;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns something other than undefined/false, or fails after `ms`. */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 15_000,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Environment of a live process, or undefined once it is gone. */
export function environOf(pid: number): Record<string, string> | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/environ`, 'utf8');
    return Object.fromEntries(
      raw
        .split('\0')
        .filter(Boolean)
        .map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
    );
  } catch {
    return undefined;
  }
}

function isZombie(pid: number): boolean {
  try {
    return /\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return true;
  }
}

/** Every live process that inherited `SVC_TEST_MARK=mark` (the supervisor, its watchdog, children, grandchildren). */
export function markedPids(mark: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    const env = environOf(pid);
    if (env?.SVC_TEST_MARK === mark && !isZombie(pid)) pids.push(pid);
  }
  return pids;
}

/** Status and body of a GET of `url`, or undefined while nothing answers there (a probe). */
export async function probe(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) });
    return { status: res.status, body: await res.text() };
  } catch {
    return undefined;
  }
}

export interface HttpReply {
  pid: number;
  index: string;
  version: string;
}

/** One GET on a fresh connection. */
export function get(port: number): Promise<HttpReply> {
  return new Promise((resolvePromise, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/', agent: false, timeout: 5000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          try {
            resolvePromise(JSON.parse(body) as HttpReply);
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end();
  });
}

export interface ProcessRow {
  name: string;
  index: number;
  pid: number | null;
  state: string;
  restarts: number;
  uptimeMs: number | null;
  reason?: string;
}

/** A temp folder holding a `.svc.yml`, and the `svc node` processes started on it. */
export class Cluster {
  readonly dir = mkdtempSync(join(tmpdir(), 'svc-node-'));
  readonly config = join(this.dir, '.svc.yml');
  readonly mark = randomUUID();
  output = '';
  proc: ChildProcess | undefined;
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }> | undefined;

  constructor(yaml: string) {
    writeFileSync(this.config, yaml);
  }

  /** `svc <args>` run to completion, in this cluster's folder. */
  svc(...args: string[]): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, [SVC, ...args], {
      cwd: this.dir,
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  /** Like {@link svc} without blocking this process (so that requests keep flowing meanwhile). */
  svcAsync(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
    const proc = spawn(process.execPath, [SVC, ...args], {
      cwd: this.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    proc.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    proc.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    return new Promise((r) => proc.on('close', (status) => r({ status, stdout, stderr })));
  }

  start(...args: string[]): void {
    // Plain commands count as ready after --ready-delay; keep the tests short.
    const argv = [SVC, 'node', '--config', this.config, '--ready-delay', '300', ...args];
    const proc = spawn(process.execPath, argv, {
      cwd: this.dir,
      env: { ...process.env, SVC_TEST_MARK: this.mark },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout.setEncoding('utf8');
    proc.stderr.setEncoding('utf8');
    proc.stdout.on('data', (d: string) => (this.output += d));
    proc.stderr.on('data', (d: string) => (this.output += d));
    this.exit = new Promise((r) => proc.on('exit', (code, signal) => r({ code, signal })));
    this.proc = proc;
  }

  waitOutput(pattern: RegExp, ms = 15_000): Promise<RegExpMatchArray> {
    return until(
      `output matching ${pattern}:\n${this.output}`,
      () => this.output.match(pattern) ?? undefined,
      ms,
    );
  }

  /**
   * The supervisor's process list, asked over its control socket from this
   * process (polling through the CLI would start a node process each time;
   * the CLI's own output is tested where it matters).
   */
  async status(): Promise<ProcessRow[]> {
    return ((await controlRequest(this.config, { cmd: 'status' })) as NodeStatus).processes;
  }

  /**
   * Waits until `count` processes printed the fixture server's "serving" line
   * (status says running after --ready-delay even for a process that has not
   * announced itself yet, on a slow machine before it listens).
   */
  serving(count: number, ms = 15_000): Promise<number> {
    return until(
      `${count} serving processes:\n${this.output}`,
      () => {
        const n = this.output.match(/\| serving on port/g)?.length ?? 0;
        return n >= count ? n : undefined;
      },
      ms,
    );
  }

  /** Waits until the status lists `count` processes, all running. */
  running(count: number, ms = 15_000): Promise<ProcessRow[]> {
    return until(
      `${count} running processes:\n${this.output}`,
      async () => {
        if (!this.output.includes('running ')) return undefined;
        const rows = await this.status();
        return rows.length === count && rows.every((r) => r.state === 'running') ? rows : undefined;
      },
      ms,
    );
  }

  /** Kills whatever this test left behind and removes the folder. */
  cleanup(): void {
    for (const pid of markedPids(this.mark)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    rmSync(controlSocketPath(this.config), { force: true });
    rmSync(this.dir, { recursive: true, force: true });
  }
}
