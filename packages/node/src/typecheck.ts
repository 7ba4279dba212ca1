import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { LineSplitter, type Output } from './output.js';

/**
 * The tsconfig.json of a project: `project` itself when it names a file,
 * else the nearest one in `project` (a folder) or above it, as `tsc` finds it.
 */
export function findTsconfig(project: string): string | undefined {
  const start = resolve(project);
  if (existsSync(start) && statSync(start).isFile()) return start;
  for (let dir = start; ;) {
    const candidate = join(dir, 'tsconfig.json');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

// A check's output is kept until it ends (a check stopped by a newer change
// prints nothing), up to this many lines.
const MAX_LINES = 200;
/** `svc check`'s exit status when it cannot check (no typescript): said once, not after every change. */
const EXIT_USAGE = 2;

/**
 * Type checks beside `svc node --watch`'s reloads: `svc check` of a
 * project, in a process of its own (the TypeScript compiler never loads into
 * the supervisor), started after each change and reporting its lines, one
 * error a line, when it ends. A change while a check of the same project
 * runs stops that check and starts another; reloads never wait for checks.
 */
export class TypeChecks {
  readonly #command: readonly [string, ...string[]];
  readonly #output: Output;
  readonly #running = new Map<string, ChildProcess>();
  /** projects whose check cannot run (no typescript): said once */
  readonly #unavailable = new Set<string>();
  #closed = false;

  /** `command`: `svc check` as a command line, e.g. [node, svc.js, 'check']. */
  constructor(command: readonly [string, ...string[]], output: Output) {
    this.#command = command;
    this.#output = output;
  }

  /**
   * Checks the project of each folder (once per tsconfig.json); a folder
   * in no TypeScript project is left alone.
   */
  check(folders: Iterable<string>): void {
    const configs = new Set<string>();
    for (const folder of folders) {
      const config = findTsconfig(folder);
      if (config && !this.#unavailable.has(config)) configs.add(config);
    }
    for (const config of configs) this.#start(config);
  }

  #start(config: string): void {
    if (this.#closed) return;
    this.#running.get(config)?.kill('SIGKILL');
    const [file, ...args] = this.#command;
    const child = spawn(file, [...args, '--project', config], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NO_COLOR: '1' },
    });
    this.#running.set(config, child);
    const lines: string[] = [];
    let dropped = 0;
    const keep = (line: string) => {
      if (line === '') return;
      if (lines.length < MAX_LINES) lines.push(line);
      else dropped++;
    };
    const stdout = new LineSplitter(keep);
    const stderr = new LineSplitter(keep);
    child.stdout.on('data', (c: Buffer) => stdout.push(c));
    child.stderr.on('data', (c: Buffer) => stderr.push(c));
    child.on('error', (err) => {
      if (this.#running.get(config) !== child) return;
      this.#running.delete(config);
      this.#output.note(`type check of ${config} could not start: ${err.message}`);
    });
    child.on('close', (code) => {
      // Stopped for a newer check, or by close(): its findings are stale.
      if (this.#running.get(config) !== child) return;
      this.#running.delete(config);
      stdout.end();
      stderr.end();
      if (code === EXIT_USAGE) this.#unavailable.add(config);
      for (const line of lines) this.#output.note(line);
      if (dropped > 0) this.#output.note(`... and ${dropped} more lines of svc check`);
    });
  }

  /** Stops every running check. */
  close(): void {
    this.#closed = true;
    for (const child of this.#running.values()) child.kill('SIGKILL');
    this.#running.clear();
  }
}
