import { createHmac, timingSafeEqual } from 'node:crypto';
import { parseJsonSafe } from '../serializers/json.js';
import type { InstanceRecord } from '../registry/registry.js';
import { decodeRecord, recordOf } from './config.js';

// Every record svc writes to ZooKeeper carries an HMAC of its JSON under a
// key derived from the cluster secret, in the field `sig`:
//   { ...record, "sig": hex(HMAC-SHA256(key, JSON.stringify(record))) }
// A reader drops a record without a valid one: whoever could write to the
// tree without the cluster secret (no ACLs set, or a leaked ZooKeeper
// password) still cannot point callers at a server of theirs.

const SIG = 'sig';

export function recordKey(secret: Buffer): Buffer {
  return createHmac('sha256', secret).update('svc zookeeper record v1').digest();
}

/** The node data of a record (with what else the node says of it), signed. */
export function signRecord(key: Buffer, record: object): Buffer {
  const text = JSON.stringify(record);
  const sig = createHmac('sha256', key).update(text).digest('hex');
  return Buffer.from(`${text.slice(0, -1)}${text.length > 2 ? ',' : ''}"${SIG}":"${sig}"}`);
}

/** `,"sig":"<64 hex>"}`: how every node signRecord writes ends. */
const SIGNED_END = /,"sig":"([0-9a-f]{64})"\}$/;
const SIGNED_END_BYTES = ',"sig":"'.length + 64 + '"}'.length;

/**
 * The record in a node's data when it is well formed, belongs at its path
 * and bears the cluster's signature; `unsigned` says why not otherwise.
 */
export function verifyRecord(
  key: Buffer,
  data: Buffer | undefined,
  service: string,
  id: string,
): { record: InstanceRecord } | { problem: string } {
  if (!data || data.length === 0) return { problem: 'holds no instance record' };
  const text = data.toString('utf8');
  // Data as signRecord writes it (every node svc writes): the signature is
  // checked on the signed text itself, which is then parsed once. Reading
  // a service's nodes is mostly this: no JSON written again, none parsed twice.
  const end =
    text.length > SIGNED_END_BYTES ? SIGNED_END.exec(text.slice(-SIGNED_END_BYTES)) : null;
  if (end) {
    const signed = `${text.slice(0, -SIGNED_END_BYTES)}}`;
    const expected = createHmac('sha256', key).update(signed).digest();
    if (timingSafeEqual(expected, Buffer.from(end[1]!, 'hex'))) {
      let value: unknown;
      try {
        value = parseJsonSafe(signed);
      } catch {
        return { problem: 'holds no instance record' };
      }
      const record = recordOf(value, service, id);
      return record ? { record } : { problem: 'holds no instance record' };
    }
  }
  return verifyParsed(key, text, service, id);
}

/**
 * The general case: the signature of whatever JSON object holds `sig`,
 * checked against the object without it written again.
 */
function verifyParsed(
  key: Buffer,
  text: string,
  service: string,
  id: string,
): { record: InstanceRecord } | { problem: string } {
  let value: unknown;
  try {
    value = parseJsonSafe(text);
  } catch {
    return { problem: 'holds no instance record' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return { problem: 'holds no instance record' };
  }
  const { [SIG]: sig, ...rest } = value as Record<string, unknown>;
  if (typeof sig !== 'string' || !/^[0-9a-f]{64}$/.test(sig)) {
    return { problem: 'holds a record without the cluster signature' };
  }
  const expected = createHmac('sha256', key).update(JSON.stringify(rest)).digest();
  if (!timingSafeEqual(expected, Buffer.from(sig, 'hex'))) {
    return { problem: 'holds a record whose signature is not the cluster’s' };
  }
  const record = decodeRecord(Buffer.from(JSON.stringify(rest)), service, id);
  return record ? { record } : { problem: 'holds no instance record' };
}
