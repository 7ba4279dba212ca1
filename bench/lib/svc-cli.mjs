// Starting the `svc` CLI as a user does: `svc instance --config ...` with its
// defaults, on a registry directory of its own (nothing shared with other
// clusters on the machine). Its output goes to a pipe that this process
// drains, as `svc node` reads its children's output.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { benchDir } from './proc.mjs';

export const svcBin = fileURLToPath(new URL('../../packages/cli/bin/svc.js', import.meta.url));
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** A fresh registry directory and the environment that points a process at it. */
export function benchCluster(extraEnv = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'svc-bench-'));
  const env = { ...process.env, SVC_LOCAL_REGISTRY_DIR: dir, SVC_CLUSTER: 'bench', ...extraEnv };
  // Settings of the machine's environment that would change what is measured.
  delete env.SVC_LOG_LEVEL;
  delete env.SVC_LOG_FORMAT;
  Object.assign(env, extraEnv);
  return { dir, env, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Whether the registry directory holds a record of `service`. */
export function registered(dir, service, count = 1) {
  try {
    const names = readdirSync(dir, { recursive: true }).map(String);
    return names.filter((p) => p.includes(service) && p.endsWith('.json')).length >= count;
  } catch {
    return false;
  }
}

/**
 * Runs `svc <args>` in `cluster`, resolves once `service` is registered.
 * Returns its pid, the bytes it wrote and a stop function (SIGTERM, then SIGKILL).
 */
export async function startSvc(
  cluster,
  args,
  { service, cwd = benchDir, timeoutMs = 30_000 } = {},
) {
  const child = spawn(process.execPath, [...nodeFlags, svcBin, ...args], {
    cwd,
    env: cluster.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = 0;
  // The last chunk of each stream, shown if it fails (read as bytes: drained cheaply).
  const last = { stdout: '', stderr: '' };
  for (const name of ['stdout', 'stderr']) {
    child[name].on('data', (d) => {
      output += d.length;
      last[name] = d;
    });
  }
  const tailText = () => `${last.stderr}\n${last.stdout}`.slice(-2000).trim();
  const exited = once(child, 'exit');
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill(nodeFlags.length ? 'SIGINT' : 'SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  };
  if (service) {
    const deadline = Date.now() + timeoutMs;
    while (!registered(cluster.dir, service)) {
      if (child.exitCode !== null) throw new Error(`svc ${args[0]} exited: ${tailText()}`);
      if (Date.now() > deadline) {
        await stop();
        throw new Error(
          `svc ${args[0]}: ${service} not registered in ${timeoutMs} ms: ${tailText()}`,
        );
      }
      await sleep(20);
    }
  }
  return { child, pid: child.pid, stop, outputBytes: () => output, exited };
}
