import { connect as netConnect, type Socket } from 'node:net';
import type { ClusterAuth } from '@svc/core';
import { connectTls, pskOf } from '@svc/core/internal';

/** Parses `tcp://host:port` (IPv6 hosts in brackets); undefined when it is not one. */
export function parseTcpEndpoint(endpoint: string): { host: string; port: number } | undefined {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(endpoint);
  if (!m) return undefined;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}

/** Each cluster's TLS key, derived from its secret once. */
const keys = new WeakMap<ClusterAuth, Buffer>();

/** Parses a log stream's endpoint: `tcp://host:port`, or `tls://host:port` (served over TLS-PSK). */
export function parseLogEndpoint(
  endpoint: string,
): { host: string; port: number; tls: boolean } | undefined {
  const tls = endpoint.startsWith('tls://');
  const target = parseTcpEndpoint(tls ? `tcp://${endpoint.slice(6)}` : endpoint);
  return target && { ...target, tls };
}

/**
 * A connection to a log stream, over TLS-PSK keyed by the cluster secret
 * (as RPC's) when its endpoint is `tls://`; the cluster handshake is still
 * the caller's to run on it. Throws when the endpoint is not a log stream's,
 * or (TLS) when the secret cannot be read.
 */
export function connectLogStream(auth: ClusterAuth, endpoint: string): Socket {
  const target = parseLogEndpoint(endpoint);
  if (!target) throw new Error(`not a log stream address: ${endpoint}`);
  if (!target.tls) return netConnect({ host: target.host, port: target.port });
  let key = keys.get(auth);
  if (key === undefined) {
    key = pskOf(auth.secret(), auth.cluster);
    keys.set(auth, key);
  }
  return connectTls(target.host, target.port, key);
}

/**
 * The first line an instance's log stream sends a subscriber once it has
 * checked its proof: every record written after it reaches that subscriber.
 */
export const SUBSCRIBED_LINE = '{"op":"subscribed"}\n';
