import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  deadProcesses,
  deathOf,
  isProcessAlive,
  isProcessAliveSync,
  ownIdentity,
  pidSpace,
  processStartTime,
  STAT_RECHECK_MS,
  type ProcessIdentity,
} from './liveness.js';

/** Polls `check` every 20 ms until it holds; fails after `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string) {
  const deadline = performance.now() + ms;
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Runs `test` with a Node.js child that idles, and its kernel start time; kills it after. */
async function withIdleChild(test: (child: ChildProcess, start: string) => Promise<void>) {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  try {
    await once(child, 'spawn');
    const start = await processStartTime(child.pid!);
    expect(start).toBeDefined();
    await test(child, start!);
  } finally {
    child.kill('SIGKILL');
  }
}

const stateOf = (pid: number) => {
  const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return text.slice(text.lastIndexOf(')') + 2).split(' ')[0];
};

const linux = process.platform === 'linux';

describe.runIf(linux)('processes of this pid space', () => {
  it('names this process with its pid namespace and start time', async () => {
    const own = await ownIdentity();
    expect(own?.pid).toBe(process.pid);
    expect(own?.space).toBe(pidSpace());
    expect(own?.start).toBe(await processStartTime(process.pid));
    expect(pidSpace()).toMatch(/^[0-9a-f-]{36}\/\d+$/);
  });

  it('says a killed process of this space is dead, and nothing of another space or pid', async () => {
    await withIdleChild(async (child, start) => {
      const mine: ProcessIdentity = { pid: child.pid!, space: pidSpace()!, start };
      const elsewhere: ProcessIdentity = { ...mine, space: 'another-boot/1' };
      const reused: ProcessIdentity = { ...mine, start: String(Number(start) - 1) };
      const items = [mine, elsewhere, reused];
      expect(deadProcesses(items, (i) => i)).toEqual(new Set([reused]));
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(isProcessAliveSync(mine.pid, mine.start)).toBe(false);
      expect(deadProcesses(items, (i) => i)).toEqual(new Set([mine, reused]));
    });
  });

  it('sees a killed process at once, though its stat showed it alive a moment before', async () => {
    await withIdleChild(async (child, start) => {
      // Seen alive: from now on only signal 0 is sent, until STAT_RECHECK_MS has passed.
      expect(deathOf(child.pid!, start)).toBeUndefined();
      expect(await isProcessAlive(child.pid!, start)).toBe(true);
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(deathOf(child.pid!, start)).toBe('gone');
      expect(await isProcessAlive(child.pid!, start)).toBe(false);
    });
  });

  it('sees a process that became a zombie after it was seen alive, at the next read of its stat', async () => {
    // sh starts a child that exits after 0.5 s, then becomes `sleep` by exec, which never reaps it.
    const sh = spawn('sh', ['-c', 'sleep 0.5 & echo $!; exec sleep 30'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    try {
      const [line] = (await once(sh.stdout, 'data')) as [Buffer];
      const pid = Number(line.toString().trim());
      const start = await processStartTime(pid);
      expect(start).toBeDefined();
      expect(deathOf(pid, start)).toBeUndefined();
      await until(() => stateOf(pid) === 'Z', 10_000, 'the child became a zombie');
      await until(() => deathOf(pid, start) === 'zombie', STAT_RECHECK_MS + 2000, 'zombie seen');
      expect(await isProcessAlive(pid, start)).toBe(false);
    } finally {
      sh.kill('SIGKILL');
    }
  });
});
