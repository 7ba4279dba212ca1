import { spawn, type ChildProcess } from 'node:child_process';

// The watchdog runs as `node -e <this source> <graceMs>` so that it needs no
// file on disk (the same code works from src/ under a test runner and from
// dist/). It reads "+PGID" / "-PGID" lines on stdin. When stdin closes
// without a "bye" first, the supervisor died without cleaning up: it removes
// the supervisor's files (its control socket), SIGTERMs every group still
// listed, waits the grace period, SIGKILLs what is left and exits.
const SOURCE = `
process.title = 'svc-node-watchdog';
const grace = Number(process.argv[1]) || 5000;
const files = process.argv.slice(2);
const groups = new Set();
let clean = false;
let buf = '';
process.on('SIGHUP', () => {});
process.on('SIGINT', () => {});
process.stdin.setEncoding('utf8');
process.stdin.on('data', (d) => {
  buf += d;
  let i;
  while ((i = buf.indexOf('\\n')) >= 0) {
    const line = buf.slice(0, i);
    buf = buf.slice(i + 1);
    if (line === 'bye') clean = true;
    const n = Number(line.slice(1));
    if (!Number.isInteger(n) || n <= 1) continue;
    if (line[0] === '+') groups.add(n);
    else if (line[0] === '-') groups.delete(n);
  }
});
function signal(sig) {
  for (const g of groups) {
    try { process.kill(-g, sig); } catch { groups.delete(g); }
  }
}
let reaping = false;
function reap() {
  if (reaping) return;
  reaping = true;
  if (!clean) {
    for (const f of files) {
      try { require('node:fs').unlinkSync(f); } catch {}
    }
  }
  if (groups.size === 0) process.exit(0);
  signal('SIGTERM');
  const deadline = Date.now() + grace;
  setInterval(() => {
    signal(0);
    if (groups.size === 0) process.exit(0);
    if (Date.now() >= deadline) { signal('SIGKILL'); process.exit(0); }
  }, 100);
}
process.stdin.on('end', reap);
process.stdin.on('error', reap);
process.stdin.on('close', reap);
`;

/** The watchdog that kills the children's process groups if the supervisor dies. */
export interface Reaper {
  readonly pid: number | undefined;
  /** a new child's process group to kill should the supervisor die */
  add(pgid: number): void;
  /** a group that is gone (or that the supervisor stopped itself) */
  remove(pgid: number): void;
  /** ends the watchdog after a clean shutdown (call once every group is removed) */
  close(): void;
}

/**
 * Starts the watchdog in its own session (so Ctrl-C in the terminal does not
 * reach it) with a pipe from this process; the pipe closes when this process
 * exits for any reason, SIGKILL included, and the kernel tells the watchdog.
 * `files` are removed should this process die without {@link Reaper.close}.
 *
 * The watchdog can die too (a stray `kill -9`): then a new one is started
 * and told every group still listed, and `onRestart` says so. Without it,
 * the supervisor's own death later left every child running, still bound
 * to the shared ports.
 */
export function startReaper(
  graceMs: number,
  files: readonly string[] = [],
  onRestart: (oldPid: number | undefined, newPid: number | undefined) => void = () => {},
): Reaper {
  const groups = new Set<number>();
  let open = true;
  let current = spawnWatchdog(graceMs, files);
  const watch = () => {
    const watched = current;
    watched.child.once('exit', () => {
      if (!open || current !== watched) return;
      current = spawnWatchdog(graceMs, files);
      for (const g of groups) current.send(`+${g}`);
      watch();
      onRestart(watched.child.pid, current.child.pid);
    });
  };
  watch();
  return {
    get pid() {
      return current.child.pid;
    },
    add(pgid) {
      groups.add(pgid);
      if (open) current.send(`+${pgid}`);
    },
    remove(pgid) {
      groups.delete(pgid);
      if (open) current.send(`-${pgid}`);
    },
    close() {
      if (!open) return;
      open = false;
      current.send('bye');
      current.child.stdin?.end();
    },
  };
}

function spawnWatchdog(
  graceMs: number,
  files: readonly string[],
): { child: ChildProcess; send: (line: string) => void } {
  const child = spawn(process.execPath, ['-e', SOURCE, String(graceMs), ...files], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  const stdin = child.stdin;
  stdin.on('error', () => {});
  return {
    child,
    send: (line) => {
      if (!stdin.destroyed && stdin.writable) stdin.write(`${line}\n`);
    },
  };
}
