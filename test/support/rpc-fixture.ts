import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface, type Interface } from 'node:readline';
import type { Logger } from '@svc/core';

/** A logger that drops everything. */
export const silent: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child: () => silent,
};

/**
 * Starts `node <fixture>`, an RPC server whose first line on stdout is `{"rpc": endpoint}`,
 * and adds it to `children` (for the test to kill); resolves once it printed that line, with
 * its endpoint and its stdout's further lines.
 */
export async function startRpcFixture(
  fixture: string,
  children: ChildProcess[],
  stdin: 'ignore' | 'pipe' = 'ignore',
): Promise<{ child: ChildProcess; rpc: string; lines: Interface }> {
  const child = spawn(process.execPath, [fixture], { stdio: [stdin, 'pipe', 'inherit'] });
  children.push(child);
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`${fixture} exited before printing its endpoint`);
    }),
  ])) as [string];
  const { rpc } = JSON.parse(first) as { rpc: string };
  return { child, rpc, lines };
}
