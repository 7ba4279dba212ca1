import { hkdfSync } from 'node:crypto';
import * as tls from 'node:tls';
import type { Logger } from '../log/logger.js';

// TLS on the `net` transport, keyed by the cluster secret (TLS-PSK): no
// certificates to make, hand out or renew; a peer without the secret fails
// the handshake, so not one byte of its request reaches the frame decoder.
//
// What Node offers decides the details (checked on Node 20): its
// `pskCallback` negotiates PSK only in TLS 1.2, so both sides pin TLS 1.2
// and ECDHE-PSK suites (a fresh key per connection: forward secrecy even
// though the PSK is long-lived). Nothing else is offered, so a peer cannot
// pick a weaker suite.

/** The suites offered and accepted, best first. */
export const TLS_PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-CBC-SHA384';
/** The PSK identity both sides name (sent in clear: it holds nothing secret). */
const IDENTITY = 'svc-net-v1';
/** A peer that has not finished its handshake by then is dropped. */
const HANDSHAKE_TIMEOUT_MS = 5000;

/** The pre-shared key of a cluster: HKDF-SHA256 of its secret, bound to its name and to this use. */
export function pskOf(secret: Buffer | string, cluster: string): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, 'svc', `svc net tls-psk v1 ${cluster}`, 32));
}

const common = {
  ciphers: TLS_PSK_CIPHERS,
  minVersion: 'TLSv1.2',
  maxVersion: 'TLSv1.2',
} as const;

/** Server options: only a peer that knows the cluster's key completes the handshake. */
export function tlsServerOptions(key: Buffer): tls.TlsOptions {
  return {
    ...common,
    handshakeTimeout: HANDSHAKE_TIMEOUT_MS,
    pskCallback: (_socket, identity) => (identity === IDENTITY ? key : null),
  };
}

/** A client connection to `host:port` over TLS-PSK; writes before the handshake are queued. */
export function connectTls(host: string, port: number, key: Buffer): tls.TLSSocket {
  const socket = tls.connect({
    ...common,
    host,
    port,
    // No certificate: the server proves itself by knowing the key.
    checkServerIdentity: () => undefined,
    pskCallback: () => ({ psk: key, identity: IDENTITY }),
  });
  socket.setNoDelay(true);
  return socket;
}

/**
 * Logs peers refused by the TLS handshake: the first from each address at
 * once, then a count every minute, so a flood stays a few lines.
 */
export class RefusedPeers {
  readonly #log: Logger;
  readonly #peer: { one: string; many: string };
  readonly #seen = new Set<string>();
  #count = 0;
  #unreported = 0;
  #timer: NodeJS.Timeout | undefined;

  /** `peer`: what a refused peer is called in the log (default: an RPC peer, RPC peers). */
  constructor(log: Logger, peer = { one: 'an RPC peer', many: 'RPC peers' }) {
    this.#log = log;
    this.#peer = peer;
  }

  get count(): number {
    return this.#count;
  }

  refused(source: string, err: Error): void {
    this.#count++;
    const host = source.replace(/:\d+$/, '');
    if (!this.#seen.has(host) && this.#seen.size < 1000) {
      this.#seen.add(host);
      this.#log.warn(`refused ${this.#peer.one} that failed the TLS handshake`, {
        source,
        err: err.message,
      });
      return;
    }
    this.#unreported++;
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.#log.warn(
        `refused ${this.#unreported} more ${this.#peer.many} that failed the TLS handshake`,
      );
      this.#unreported = 0;
    }, 60_000).unref();
  }

  close(): void {
    clearTimeout(this.#timer);
  }
}
