import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync } from 'node:fs';
import { lstat, opendir, readFile, unlink } from 'node:fs/promises';
import * as net from 'node:net';
import { networkInterfaces, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

// Same-host calls on `net` go over a unix socket instead of loopback TCP: the
// kernel skips the TCP stack, and a call at one in flight is about a tenth
// quicker. The endpoint a server publishes stays `tcp://host:port`; beside
// its TCP port it listens on a socket file named after that endpoint and its
// network namespace, in a folder of this user's that only this user can
// enter. A caller that finds such a file for an endpoint whose host is one
// of its own addresses connects to it; anyone else (another host, another
// network namespace, another user, another mount namespace) finds no file
// and uses TCP. Either way the caller passes the cluster handshake before a
// byte of its requests is read.

/** Longest socket path the kernel takes (108 bytes with its NUL on Linux, 104 on macOS). */
const MAX_PATH = 100;

let ownFolder: string | null | undefined;

/**
 * This user's folder of local sockets (`$XDG_RUNTIME_DIR/svc-<uid>`, else
 * `<tmpdir>/svc-<uid>`, as the local registry's; mode 0700),
 * made when missing; undefined where it cannot be had safely: no uid (Windows),
 * or something there this user does not own, that is not a folder, or that
 * others may enter.
 */
function folder(): string | undefined {
  if (ownFolder === undefined) {
    ownFolder = null;
    const uid = process.getuid?.();
    if (uid !== undefined) {
      const dir = join(process.env['XDG_RUNTIME_DIR'] || tmpdir(), `svc-${uid}`);
      try {
        mkdirSync(dir, { recursive: true, mode: 0o700 });
      } catch {
        // there already (or not makeable: the checks below say which)
      }
      try {
        const st = lstatSync(dir);
        if (st.isDirectory() && st.uid === uid && (st.mode & 0o077) === 0) ownFolder = dir;
      } catch {
        // not there: TCP only
      }
    }
  }
  return ownFolder ?? undefined;
}

let ownNetwork: string | undefined;

/** This process's network namespace (its inode on Linux; `host` where there are none). */
function network(): string {
  if (ownNetwork === undefined) {
    try {
      ownNetwork = /^net:\[(\d+)\]$/.exec(readlinkSync('/proc/self/ns/net'))?.[1] ?? 'host';
    } catch {
      ownNetwork = 'host';
    }
  }
  return ownNetwork;
}

/**
 * The socket file beside the `tcp://` `endpoint` (as published) in this
 * network namespace, or undefined when there can be none.
 */
export function localSocketPath(endpoint: string): string | undefined {
  const dir = folder();
  if (dir === undefined) return undefined;
  const name = createHash('sha256').update(endpoint).digest('base64url').slice(0, 16);
  const path = join(dir, `rpc-${network()}-${name}.sock`);
  return path.length <= MAX_PATH ? path : undefined;
}

let ownAddresses: Set<string> | undefined;

/** Whether `host` (as in an endpoint) names this machine in this network namespace. */
export function isOwnHost(host: string): boolean {
  if (host === 'localhost' || host === '::1' || host.startsWith('127.')) return true;
  if (ownAddresses === undefined) {
    ownAddresses = new Set();
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) ownAddresses.add(a.address);
    }
  }
  return ownAddresses.has(host);
}

/** How long a probe waits for a connection to be accepted or refused before it leaves the file alone. */
const PROBE_TIMEOUT_MS = 500;

/**
 * What connecting to the unix socket at `path` says of it: `stale` when the
 * kernel refuses the connection (ECONNREFUSED: no process listens on that
 * file any more), `live` when one is accepted, `unknown` for anything else
 * (no file, a full backlog, no answer in time, `signal` aborted), which
 * leaves the file alone. A live listener sees a connection that closes
 * before its handshake.
 */
function probe(path: string, signal?: AbortSignal): Promise<'stale' | 'live' | 'unknown'> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve('unknown');
    const socket = net.connect({ path });
    const done = (answer: 'stale' | 'live' | 'unknown') => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', aborted);
      socket.destroy();
      resolve(answer);
    };
    const aborted = () => done('unknown');
    const timer = setTimeout(aborted, PROBE_TIMEOUT_MS);
    signal?.addEventListener('abort', aborted);
    socket.once('connect', () => done('live'));
    socket.once('error', (err: NodeJS.ErrnoException) =>
      done(err.code === 'ECONNREFUSED' ? 'stale' : 'unknown'),
    );
  });
}

/**
 * Removes the unix socket file at `path` if it is stale: a socket (not
 * followed if a symlink) of this user's that refuses connections, as one a
 * process killed while it listened there leaves. Resolves to what was
 * there: `none` (no file), `removed`, `live` (a process listens: left),
 * `other` (not a socket of ours, younger than `minAgeMs`, or its state
 * unknown: left). Never throws.
 */
export async function removeIfStale(
  path: string,
  options: { signal?: AbortSignal; minAgeMs?: number } = {},
): Promise<'none' | 'removed' | 'live' | 'other'> {
  const { signal, minAgeMs = 0 } = options;
  try {
    const before = await lstat(path);
    if (!before.isSocket() || before.uid !== process.getuid?.()) return 'other';
    if (Date.now() - before.mtimeMs < minAgeMs) return 'other';
    const state = await probe(path, signal);
    if (state !== 'stale') return state === 'live' ? 'live' : 'other';
    // Only the file that refused: one a new listener put there since (after removing
    // this one) is another inode, and stays.
    const after = await lstat(path);
    if (after.ino !== before.ino || after.dev !== before.dev) return 'other';
    await unlink(path);
    return 'removed';
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'none' : 'other';
  }
}

/** Most socket files one sweep probes: a folder with more is cleaned over several starts. */
const SWEEP_MAX_PROBES = 64;
/** Most folder entries one sweep reads. */
const SWEEP_MAX_ENTRIES = 4096;
/** Probes one sweep has in flight at once. */
const SWEEP_PARALLEL = 4;
/**
 * How old a file must be for a sweep to probe it: a server binds its file and
 * then listens on it, and a connection in between is refused as if it were
 * stale (the file's time is when it was bound).
 */
const SWEEP_MIN_AGE_MS = 2000;

/** What one sweep did: socket files it probed and those it removed. */
export interface SweepResult {
  looked: number;
  removed: number;
}

/**
 * Removes the stale `net` socket files (`rpc-*.sock`) in the folder of
 * `own` (this process's socket, left alone), as processes killed with
 * SIGKILL, a crash or the OOM killer leave them: each is probed with
 * {@link removeIfStale}, so a file a live process listens on stays. Those
 * this network namespace lists as listening (Linux's /proc/net/unix) are
 * not probed at all, so live instances see no connection; nor are files
 * bound in the last {@link SWEEP_MIN_AGE_MS}. At most
 * {@link SWEEP_MAX_PROBES} files are probed, in a random order, so that
 * successive sweeps get through a folder of any size. Never throws.
 */
export async function sweepStale(own: string, signal?: AbortSignal): Promise<SweepResult> {
  const result: SweepResult = { looked: 0, removed: 0 };
  const dir = dirname(own);
  const names: string[] = [];
  try {
    const entries = await opendir(dir);
    let read = 0;
    for await (const entry of entries) {
      if (++read > SWEEP_MAX_ENTRIES) break;
      // By the entry's type, as the folder lists it (symlinks are not sockets here).
      if (/^rpc-.*\.sock$/.test(entry.name) && entry.isSocket()) names.push(entry.name);
    }
  } catch {
    return result;
  }
  const others = names.map((name) => join(dir, name)).filter((path) => path !== own);
  if (others.length === 0) return result;
  const listening = await listeningHere(dir);
  const candidates = others.filter((path) => !listening.has(path));
  // A random pick of at most SWEEP_MAX_PROBES (a partial Fisher-Yates shuffle).
  const picked = Math.min(candidates.length, SWEEP_MAX_PROBES);
  for (let i = 0; i < picked; i++) {
    const j = i + Math.floor(Math.random() * (candidates.length - i));
    [candidates[i], candidates[j]] = [candidates[j]!, candidates[i]!];
  }
  let next = 0;
  const worker = async () => {
    while (next < picked && !signal?.aborted) {
      const path = candidates[next++]!;
      result.looked++;
      const answer = await removeIfStale(path, { signal, minAgeMs: SWEEP_MIN_AGE_MS });
      if (answer === 'removed') result.removed++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(SWEEP_PARALLEL, picked) }, worker));
  return result;
}

/**
 * The unix sockets in `dir` that a process of this network namespace
 * listens on, by /proc/net/unix (Linux); empty where that cannot be read.
 * Only a hint: a listener in another network namespace is not listed.
 */
async function listeningHere(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  let table: string;
  try {
    table = await readFile('/proc/net/unix', 'utf8');
  } catch {
    return out;
  }
  const prefix = `${dir}/`;
  // Num: RefCount Protocol Flags Type St Inode Path; flag 0x10000 is __SO_ACCEPTCON (listening).
  for (const line of table.split('\n')) {
    const m = /^\S+:\s+\S+\s+\S+\s+([0-9A-Fa-f]+)\s+\S+\s+\S+\s+\S+\s(.+)$/.exec(line);
    if (m && (parseInt(m[1]!, 16) & 0x10000) !== 0 && m[2]!.startsWith(prefix)) out.add(m[2]!);
  }
  return out;
}
