import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';

const hasProc = existsSync('/proc/self/stat');

interface ProcStat {
  /** one-letter process state (`R`, `S`, `Z`...) */
  state: string;
  /** start time since boot, in clock ticks, as written by the kernel */
  start: string;
}

async function readProcStat(pid: number): Promise<ProcStat | null | 'gone'> {
  if (!hasProc) return null;
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : null;
  }
  // The command name is in parentheses and may itself hold spaces and parentheses.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // After the name: state is field 3 of the whole line, start time field 22.
  const state = fields[0];
  const start = fields[19];
  return state && start ? { state, start } : null;
}

/** The kernel's start time of a process (Linux), to tell it apart from a later one with the same pid. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readProcStat(pid);
  return stat && stat !== 'gone' ? stat.start : undefined;
}

/**
 * Whether process `pid` of this host still runs. A zombie counts as dead,
 * and so does a live process whose start time differs from `startTime`
 * (the pid was reused).
 */
export async function isProcessAlive(pid: number, startTime?: string): Promise<boolean> {
  if (!Number.isSafeInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    if ((err as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  const stat = await readProcStat(pid);
  if (stat === 'gone') return false;
  if (stat === null) return true;
  if (stat.state === 'Z' || stat.state === 'X') return false;
  return startTime === undefined || stat.start === startTime;
}
