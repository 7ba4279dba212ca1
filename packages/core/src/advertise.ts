import { isIP } from 'node:net';
import { ConfigError } from './errors.js';

// Which address an instance binds and which one it publishes in the
// registry. They differ when an instance listens on every interface
// (`0.0.0.0`) or behind an address translation: the registry must hold an
// address other hosts can reach, never the wildcard.

/** `0.0.0.0`, `::` and friends: an address that means "every interface". */
export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '[::]' || host === '*' || host === '';
}

/**
 * The address to publish for listeners bound to `bind`: `advertise` when
 * given, else `bind` itself. A wildcard bind without an advertised address
 * is a ConfigError: picking "the first non-loopback address" would publish
 * a docker bridge or a second NIC on many hosts, and every caller would
 * time out far from the cause.
 */
export function resolveAdvertise(
  bind: string,
  advertise: string | undefined,
  keys: { bind: string; advertise: string } = {
    bind: 'bind_host (SVC_BIND_HOST)',
    advertise: 'advertise_host (SVC_ADVERTISE_HOST)',
  },
): string {
  if (advertise !== undefined && advertise !== '') {
    if (isWildcard(advertise))
      throw new ConfigError(
        `${keys.advertise} is "${advertise}": it must be an address other hosts can reach, not a wildcard`,
      );
    return advertise;
  }
  if (isWildcard(bind))
    throw new ConfigError(
      `${keys.bind} is "${bind}" (every interface): set ${keys.advertise} to the address other hosts reach this one at`,
    );
  return bind;
}

/** `tcp://10.0.0.5:4000` for `tcp://0.0.0.0:4000` published as `10.0.0.5`; IPv6 bracketed. */
export function withHost(endpoint: string, host: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/)(\[[^\]]*\]|[^:/]*)(:\d+.*)$/i.exec(endpoint);
  if (!m) return endpoint;
  const shown = isIP(host) === 6 ? `[${host}]` : host;
  return `${m[1]!}${shown}${m[3]!}`;
}

/** What {@link advertiseHostOf} reads: the two addresses of a backend context. */
export interface HostPair {
  bindHost: string;
  advertiseHost?: string;
}

/** The address to publish for a context's direct listeners (RPC, local events). */
export function advertiseHostOf(ctx: HostPair): string {
  return resolveAdvertise(ctx.bindHost, ctx.advertiseHost);
}
