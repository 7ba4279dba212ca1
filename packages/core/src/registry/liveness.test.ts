import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  deadProcesses,
  isProcessAliveSync,
  ownIdentity,
  pidSpace,
  processStartTime,
  type ProcessIdentity,
} from './liveness.js';

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
    const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
      stdio: 'ignore',
    });
    try {
      await once(child, 'spawn');
      const start = await processStartTime(child.pid!);
      expect(start).toBeDefined();
      const mine: ProcessIdentity = { pid: child.pid!, space: pidSpace()!, start: start! };
      const elsewhere: ProcessIdentity = { ...mine, space: 'another-boot/1' };
      const reused: ProcessIdentity = { ...mine, start: String(Number(start) - 1) };
      const items = [mine, elsewhere, reused];
      expect(deadProcesses(items, (i) => i)).toEqual(new Set([reused]));
      child.kill('SIGKILL');
      await once(child, 'exit');
      expect(isProcessAliveSync(mine.pid, mine.start)).toBe(false);
      expect(deadProcesses(items, (i) => i)).toEqual(new Set([mine, reused]));
    } finally {
      child.kill('SIGKILL');
    }
  });
});
