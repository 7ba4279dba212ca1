import { existsSync, readFileSync, readlinkSync } from 'node:fs';
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
  return parseProcStat(text);
}

/** As readProcStat, at once: /proc is in memory, and a check every 250 ms should cost least. */
function readProcStatSync(pid: number): ProcStat | null | 'gone' {
  if (!hasProc) return null;
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'gone' : null;
  }
  return parseProcStat(text);
}

function parseProcStat(text: string): ProcStat | null {
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
  // The same check as deathOf's: /proc is in memory, and mostly not read at all (STAT_RECHECK_MS).
  return deathOf(pid, startTime) === undefined;
}

/** As {@link isProcessAlive}, at once (no file read waits on the thread pool). */
export function isProcessAliveSync(pid: number, startTime?: string): boolean {
  return deathOf(pid, startTime) === undefined;
}

/** Why a process of this host counts as dead. */
export type ProcessDeath = 'gone' | 'zombie' | 'pid reused';

/**
 * Why process `pid` of this host counts as dead ({@link isProcessAlive}'s
 * rules), or undefined while it runs or cannot be told dead. At once.
 */
export function deathOf(pid: number, startTime?: string): ProcessDeath | undefined {
  const signal = signalPid(pid);
  if (signal === 'none') {
    forget(pid, startTime);
    return 'gone';
  }
  if (signal === 'ok' && seenAliveLately(pid, startTime)) return undefined;
  const stat = readProcStatSync(pid);
  const fate = fateByStat(stat, signal, startTime);
  if (fate === undefined) noteAlive(stat, pid, startTime);
  return fate;
}

/**
 * How long a process whose stat showed it alive, with the start time its
 * record names, is then checked by signal 0 alone (about 1 µs) before its
 * `/proc/<pid>/stat` is read again (open, read, close: about 13 µs). Watched
 * services are checked every 250 ms, each process against every record of
 * its host, so the read was most of what an idle cluster on one host spent
 * on liveness. A process that is gone is still seen at once (signal 0
 * fails); one that became a zombie, or whose pid was taken by another
 * process in between, is seen at the next read, within this time.
 */
export const STAT_RECHECK_MS = 2000;
/** `pid:start` → when its stat last showed it alive (performance.now()) */
const seenAlive = new Map<string, number>();
/** More distinct processes than this on one host: the map starts again (each is read once more). */
const SEEN_ALIVE_MAX = 4096;

function seenAliveLately(pid: number, startTime: string | undefined): boolean {
  if (startTime === undefined) return false;
  const at = seenAlive.get(`${pid}:${startTime}`);
  return at !== undefined && performance.now() - at < STAT_RECHECK_MS;
}

function noteAlive(
  stat: ProcStat | null | 'gone',
  pid: number,
  startTime: string | undefined,
): void {
  // Only what the stat itself showed: a start time to compare, and a live state.
  if (startTime === undefined || stat === null || stat === 'gone') return;
  if (seenAlive.size >= SEEN_ALIVE_MAX) seenAlive.clear();
  seenAlive.set(`${pid}:${startTime}`, performance.now());
}

function forget(pid: number, startTime: string | undefined): void {
  if (startTime !== undefined) seenAlive.delete(`${pid}:${startTime}`);
}

/** Signal 0: `none` when no such process exists, `denied` when it is another user's. */
function signalPid(pid: number): 'none' | 'denied' | 'ok' {
  if (!Number.isSafeInteger(pid) || pid <= 0) return 'none';
  try {
    process.kill(pid, 0);
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'ESRCH' ? 'none' : 'denied';
  }
  return 'ok';
}

/** Undefined while the process counts as alive. */
function fateByStat(
  stat: ProcStat | null | 'gone',
  signal: 'denied' | 'ok',
  startTime: string | undefined,
): ProcessDeath | undefined {
  // Another user's process hidden from us (/proc mounted with hidepid): it exists.
  if (stat === 'gone') return signal === 'denied' ? undefined : 'gone';
  if (stat === null) return undefined;
  if (stat.state === 'Z' || stat.state === 'X') return 'zombie';
  return startTime === undefined || stat.start === startTime ? undefined : 'pid reused';
}

let ownSpace: string | null | undefined;

/**
 * Names this process's pid namespace on this boot of this machine (Linux:
 * the kernel's boot id and the pid namespace's inode), or undefined where
 * it cannot be told. Two processes with the same space see each other's
 * pids; a hostname alone would not say so (containers share a kernel but
 * not their pids, and two hosts may share a name).
 */
export function pidSpace(): string | undefined {
  if (ownSpace === undefined) {
    try {
      const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
      const ns = /^pid:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/pid'))?.[1];
      ownSpace = boot && ns ? `${boot}/${ns}` : null;
    } catch {
      ownSpace = null;
    }
  }
  return ownSpace ?? undefined;
}

/** Where a process runs and when it started: enough to check it from its pid space. */
export interface ProcessIdentity {
  pid: number;
  /** {@link pidSpace} of the process */
  space: string;
  /** its kernel start time ({@link processStartTime}) */
  start: string;
}

/** This process's identity, where it can be told (Linux). */
export async function ownIdentity(): Promise<ProcessIdentity | undefined> {
  const space = pidSpace();
  if (space === undefined) return undefined;
  const start = await (ownStart ??= processStartTime(process.pid));
  return start === undefined ? undefined : { pid: process.pid, space, start };
}
let ownStart: Promise<string | undefined> | undefined;

/**
 * Which of `items` belong to a process of this pid space that is gone;
 * those of other spaces (other hosts, other containers) or of unknown
 * identity are never said dead. Each distinct process is checked once.
 */
export function deadProcesses<T>(
  items: readonly T[],
  identityOf: (item: T) => ProcessIdentity | undefined,
): Set<T> {
  const dead = new Set<T>();
  const space = pidSpace();
  if (space === undefined) return dead;
  const alive = new Map<string, boolean>();
  for (const item of items) {
    const id = identityOf(item);
    if (id === undefined || id.space !== space || id.pid === process.pid) continue;
    const key = `${id.pid}:${id.start}`;
    let live = alive.get(key);
    if (live === undefined) alive.set(key, (live = isProcessAliveSync(id.pid, id.start)));
    if (!live) dead.add(item);
  }
  return dead;
}
