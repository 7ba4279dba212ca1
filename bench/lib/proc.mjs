// Starting and stopping the processes of one measurement. Every child is
// killed when the measurement ends, and when the runner itself exits.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const children = new Set();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
});

export const benchDir = fileURLToPath(new URL('..', import.meta.url));

/** Extra node flags for every child (e.g. BENCH_NODE_FLAGS=--cpu-prof). */
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);

/**
 * Starts `node script ...args` and resolves with the first JSON line it
 * prints, plus a stop function. Fails if it exits or stays silent for `timeoutMs`.
 */
export async function start(script, args = [], timeoutMs = 20_000, env = process.env) {
  const child = spawn(process.execPath, [...nodeFlags, script, ...args], {
    cwd: benchDir,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const first = new Promise((resolve) => lines.once('line', resolve));
  let timer;
  const line = await Promise.race([
    first,
    exited.then((code) => {
      throw new Error(`${script} exited (${code}) before it was ready:\n${stderr.trim()}`);
    }),
    new Promise((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`${script} said nothing in ${timeoutMs} ms`)),
        timeoutMs,
      );
    }),
  ]).finally(() => clearTimeout(timer));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      // SIGINT lets --cpu-prof write its profile; SIGKILL follows if it lingers.
      child.kill(nodeFlags.length ? 'SIGINT' : 'SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 3000);
      await exited;
      clearTimeout(t);
    }
    children.delete(child);
  };
  return { value: JSON.parse(line), stop, exited, pid: child.pid };
}

/** Runs a client script to completion and returns its JSON result line. */
export async function runClient(script, config, timeoutMs = 60_000, env = process.env) {
  const { value, stop, exited } = await start(script, [JSON.stringify(config)], timeoutMs, env);
  // It exits by itself after its result line; stop() is only for one that hangs.
  const t = setTimeout(() => void stop(), 5000);
  await exited;
  clearTimeout(t);
  await stop();
  return value;
}

/** A TCP port nothing listens on right now (for peers that cannot bind port 0). */
export async function freePort() {
  const server = net.createServer();
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((r) => server.close(r));
  return port;
}

/** CPU time (user + system) a live process has used so far, in µs; NaN where /proc is missing. */
export function cpuTimeUs(pid) {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    // utime and stime, in clock ticks (100 a second on Linux).
    return (Number(fields[11]) + Number(fields[12])) * 10_000;
  } catch {
    return NaN;
  }
}
