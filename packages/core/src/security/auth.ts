import type { Socket } from 'node:net';
import { ConnectionLostError } from '../errors.js';
import { peerName } from '../listen.js';
import type { Logger } from '../log/logger.js';
import {
  acceptHandshake,
  connectHandshake,
  DEFAULT_HANDSHAKE_TIMEOUT_MS,
  handshakeKey,
  type PeerBytes,
} from './handshake.js';
import { curveKeys, type CurveKeys } from './curve.js';
import { Refusals } from './refusals.js';
import { loadSecret, type SecretSource } from './secret.js';

/** Options of {@link ClusterAuth}. */
export interface ClusterAuthOptions {
  /** where refusals are logged (summarised) */
  log: Logger;
  /** how long a peer has to finish the handshake, ms (default 5000) */
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/**
 * What one process knows of its cluster's secret, and the handshake every
 * TCP listener and client of the cluster runs with it: a listener
 * {@link accept}s a connection only from a peer that proves it knows the
 * secret, before it decodes a byte of it; a client {@link connect}s only
 * to a peer that proves the same. The secret is read (or, on one machine,
 * created) on first use: see {@link loadSecret}.
 */
/** The environment variables that say where a cluster's secret is (see {@link loadSecret}). */
const SECRET_ENV = [
  'SVC_SECRET',
  'SVC_SECRET_FILE',
  'SVC_LOCAL_REGISTRY_DIR',
  'XDG_RUNTIME_DIR',
] as const;

export class ClusterAuth {
  readonly cluster: string;
  readonly #source: SecretSource;
  readonly #env: NodeJS.ProcessEnv;
  readonly #timeoutMs: number;
  readonly #refusals: Refusals;
  #secret: Buffer | undefined;
  #key: Buffer | undefined;
  #curve: CurveKeys | undefined;

  constructor(source: SecretSource, options: ClusterAuthOptions) {
    this.cluster = source.cluster;
    this.#source = source;
    // Where the secret comes from is fixed now, though it is read on first use: a client made
    // while SVC_LOCAL_REGISTRY_DIR named one cluster directory found its registry there and
    // then, once the variable changed, read (and made) its secret somewhere else.
    const env = options.env ?? process.env;
    this.#env = {};
    for (const name of SECRET_ENV) if (env[name] !== undefined) this.#env[name] = env[name];
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    this.#refusals = new Refusals(options.log);
  }

  /** The secret's bytes; throws a ConfigError when it cannot be read or made. */
  secret(): Buffer {
    this.#secret ??= loadSecret(this.#source, this.#env);
    return this.#secret;
  }

  /** Reads the secret now, so that a bad secret file stops a process as it starts. */
  check(): void {
    this.#key ??= handshakeKey(this.secret());
  }

  #handshakeKey(): Buffer {
    this.#key ??= handshakeKey(this.secret());
    return this.#key;
  }

  /** The cluster's CURVE key pairs for ZeroMQ, derived from the secret. */
  curve(): CurveKeys {
    this.#curve ??= curveKeys(this.secret());
    return this.#curve;
  }

  /** Counts and logs (summarised) a peer refused by another mechanism (ZeroMQ's ZAP). */
  refuse(listener: string, source: string, reason: string): void {
    this.#refusals.record(listener, source, reason);
  }

  /** Peers refused so far. */
  get refused(): number {
    return this.#refusals.total;
  }

  /**
   * Runs the listener's side of the handshake on an accepted socket; calls
   * `ready` (synchronously, from the socket's `data` event) with what the
   * peer sent after it. A peer that fails is disconnected, counted and
   * logged (summarised), and nothing it sent is given to anyone.
   */
  accept(socket: Socket, listener: string, ready: (rest: Buffer) => void): void {
    const source = peerName(socket);
    let key: Buffer;
    try {
      key = this.#handshakeKey();
    } catch (err) {
      // No secret, no way in (and a listener's connection handler must not throw).
      socket.destroy();
      this.#refusals.record(listener, source, `could not be checked: ${(err as Error).message}`);
      return;
    }
    acceptHandshake(socket, key, this.#timeoutMs, {
      ready,
      failed: (reason) => this.#refusals.record(listener, source, reason),
    });
  }

  /**
   * Runs the client's side of the handshake on a socket from `net.connect`;
   * nothing else may be written to it before `ready`. `failed` gets a
   * ConnectionLostError that says why. `read` is given for a socket read
   * through `onread` (see {@link connectHandshake}).
   */
  connect(
    socket: Socket,
    endpoint: string,
    callbacks: { ready(rest: Buffer): void; failed(err: Error): void },
    read?: PeerBytes,
  ): void {
    let key: Buffer;
    try {
      key = this.#handshakeKey();
    } catch (err) {
      socket.destroy();
      callbacks.failed(err as Error);
      return;
    }
    connectHandshake(
      socket,
      key,
      this.#timeoutMs,
      {
        ready: (rest) => callbacks.ready(rest),
        failed: (reason) =>
          callbacks.failed(
            new ConnectionLostError(`cannot authenticate with ${endpoint}: ${reason}`),
          ),
      },
      read,
    );
  }

  /** Logs what is pending of the refusal summary. */
  close(): void {
    this.#refusals.close();
  }
}
