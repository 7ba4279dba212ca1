import { spawn } from 'node:child_process';

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
 */
export function startReaper(graceMs: number, files: readonly string[] = []): Reaper {
  const child = spawn(process.execPath, ['-e', SOURCE, String(graceMs), ...files], {
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  child.unref();
  const stdin = child.stdin;
  stdin.on('error', () => {});
  let open = true;
  const send = (line: string) => {
    if (open) stdin.write(`${line}\n`);
  };
  return {
    pid: child.pid,
    add: (pgid) => send(`+${pgid}`),
    remove: (pgid) => send(`-${pgid}`),
    close() {
      if (!open) return;
      stdin.write('bye\n');
      open = false;
      stdin.end();
    },
  };
}
