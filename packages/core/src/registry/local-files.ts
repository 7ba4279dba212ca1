import { lstat } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '../errors.js';
import type { InstanceRecord, SubscriptionInfo } from './registry.js';

// The local registry's files: where a cluster's directory is, whose it must
// be, and what a file must hold to be read as an entry (anything else in
// the directory is ignored, never trusted).

/** What one registry file holds: the record and what is needed to tell whether its process lives. */
export interface Entry {
  svcLocalRegistry: 1;
  /** host that wrote the entry: liveness is only checked on that host */
  host: string;
  /** kernel start time of `record.pid` when it was registered (Linux), against pid reuse */
  pidStart?: string;
  record: InstanceRecord;
}

const CLUSTER_NAME = /^[A-Za-z0-9_.-]{1,100}$/;

/**
 * The directory of one cluster of the local registry:
 * `<base>/svc-<uid>/<cluster>`, with base `$SVC_LOCAL_REGISTRY_DIR`, else
 * `$XDG_RUNTIME_DIR`, else the OS temp directory. It depends on neither
 * the working directory nor the config file, so that processes started
 * from any folder with the same cluster name see each other.
 */
export function localRegistryDir(cluster: string, env: NodeJS.ProcessEnv = process.env): string {
  if (!CLUSTER_NAME.test(cluster) || cluster === '.' || cluster === '..') {
    throw new ConfigError(
      `invalid cluster name "${cluster}": use letters, digits, "_", "." and "-" (at most 100)`,
    );
  }
  const base = env['SVC_LOCAL_REGISTRY_DIR'] || env['XDG_RUNTIME_DIR'] || tmpdir();
  return join(base, `svc-${userId()}`, cluster);
}

function userId(): string {
  return String(process.getuid?.() ?? userInfo().username);
}

/** Refuses a registry directory that is not a directory, or is another user's. */
export async function assertOwnDirectory(dir: string): Promise<void> {
  const st = await lstat(dir);
  const uid = process.getuid?.();
  if (!st.isDirectory() || (uid !== undefined && st.uid !== uid)) {
    throw new ConfigError(
      `registry directory ${dir} is not a directory owned by this user: remove it or set SVC_LOCAL_REGISTRY_DIR`,
    );
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

export function asEntry(value: unknown): Entry | undefined {
  if (!isObject(value) || value['svcLocalRegistry'] !== 1 || typeof value['host'] !== 'string') {
    return undefined;
  }
  const pidStart = value['pidStart'];
  if (pidStart !== undefined && typeof pidStart !== 'string') return undefined;
  const record = asRecord(value['record']);
  return record ? (value as unknown as Entry) : undefined;
}

function asRecord(value: unknown): InstanceRecord | undefined {
  if (!isObject(value)) return undefined;
  const r = value;
  if (typeof r['id'] !== 'string' || typeof r['service'] !== 'string') return undefined;
  if (typeof r['host'] !== 'string' || !Number.isSafeInteger(r['pid'])) return undefined;
  if (typeof r['startedAt'] !== 'number') return undefined;
  if (r['version'] !== undefined && typeof r['version'] !== 'string') return undefined;
  if (r['metadata'] !== undefined && !isObject(r['metadata'])) return undefined;
  const endpoints = r['endpoints'];
  if (!isObject(endpoints) || !Object.values(endpoints).every((e) => typeof e === 'string')) {
    return undefined;
  }
  const subs = r['subscriptions'];
  if (!Array.isArray(subs) || !subs.every(isSubscription)) return undefined;
  return r as unknown as InstanceRecord;
}

function isSubscription(value: unknown): value is SubscriptionInfo {
  if (!isObject(value)) return false;
  const mode = value['mode'];
  return (
    typeof value['type'] === 'string' &&
    typeof value['handler'] === 'string' &&
    (value['source'] === undefined || typeof value['source'] === 'string') &&
    (mode === 'pool' || mode === 'broadcast' || mode === 'singleton')
  );
}
