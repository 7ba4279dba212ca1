import { createHash } from 'node:crypto';
import { lstatSync, mkdirSync, readlinkSync, unlinkSync } from 'node:fs';
import { networkInterfaces, tmpdir } from 'node:os';
import { join } from 'node:path';

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

/**
 * Removes a socket file left at `path` (by a process killed while it served
 * the same endpoint): a caller finding it would try a socket nobody serves.
 */
export function removeStale(path: string): void {
  try {
    if (lstatSync(path).isSocket()) unlinkSync(path);
  } catch {
    // none there
  }
}
