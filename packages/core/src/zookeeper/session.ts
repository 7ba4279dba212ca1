import { Socket } from 'node:net';
import type * as Zk from 'node-zookeeper-client';
import { BackendError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { ZooKeeperConfig } from './config.js';

/** The client library's module, loaded lazily by the registry. */
export type ZkModule = typeof Zk;
export type ZkClient = Zk.Client;

/** What the session tells its owner. */
export interface SessionHooks {
  /** A new session replaced one that expired: every ephemeral node and watch is gone. */
  onNewSession(): void;
  /** The same session connected again after a disconnection: nodes survived. */
  onReconnect(): void;
}

type Callback<T> = (error: Error | Zk.Exception | null, value?: T) => void;

/** The ZooKeeper error code a failed call carries (`Exception.NO_NODE`...), if any. */
export function zkCode(error: unknown): number | undefined {
  if (error instanceof BackendError) {
    const data = error.data as { zookeeperCode?: unknown } | undefined;
    return typeof data?.zookeeperCode === 'number' ? data.zookeeperCode : undefined;
  }
  return undefined;
}

/** How long a connection may wait for ZooKeeper's answer to its handshake before it is dropped. */
const HANDSHAKE_TIMEOUT_MS = 3000;

/**
 * The library's current socket. It sets no timeout on the handshake: a server
 * that accepted the TCP connection while starting up, and never answered,
 * would keep the client waiting forever, so the session drops such a socket
 * and the library connects again. Undefined if the library's insides change.
 */
function librarySocket(client: ZkClient): Socket | undefined {
  const manager = (client as unknown as { connectionManager?: { socket?: unknown } })
    .connectionManager;
  return manager?.socket instanceof Socket ? manager.socket : undefined;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One logical ZooKeeper session that outlives the library's sessions: the
 * library reconnects by itself after a connection loss, but a session the
 * server expired is dead for good, so this replaces its client with a new
 * one and tells the owner to put its nodes back. Every call waits at most
 * `timeoutMs` for a connection and fails with a BackendError after that.
 */
export class ZooKeeperSession {
  readonly #zk: ZkModule;
  readonly #config: ZooKeeperConfig;
  readonly #log: Logger;
  readonly #hooks: SessionHooks;
  #client!: ZkClient;
  #fresh = false;
  #connected = false;
  #closed = false;
  #outage = false;
  /** when the current outage began, while the current client holds a session */
  #disconnectedSince: number | undefined;
  readonly #waiters = new Set<() => void>();
  #watchdog: NodeJS.Timeout | undefined;
  readonly #heartbeat: NodeJS.Timeout;
  /** when the unanswered probe was sent, if one is out */
  #probeSentAt: number | undefined;
  /** the socket holding this turn's requests back (see #coalesce) */
  #corked: Socket | undefined;

  private constructor(zk: ZkModule, config: ZooKeeperConfig, log: Logger, hooks: SessionHooks) {
    this.#zk = zk;
    this.#config = config;
    this.#log = log;
    this.#hooks = hooks;
    this.#heartbeat = setInterval(
      () => this.#beat(),
      Math.max(200, Math.floor(config.sessionTimeoutMs / 3)),
    );
    this.#heartbeat.unref();
  }

  /**
   * The library pings but never notices when no answer comes back, so a
   * connection the server stopped serving (it may drop a moved session's
   * requests without closing the socket) would look connected forever. As
   * ZooKeeper's Java client does, a connection that answers nothing for
   * two thirds of the session timeout is dropped and made again; the
   * server then says whether the session lives on or expired.
   */
  #beat(): void {
    if (this.#closed || !this.#connected) {
      this.#probeSentAt = undefined;
      return;
    }
    if (this.#probeSentAt !== undefined) {
      if (Date.now() - this.#probeSentAt > (this.#config.sessionTimeoutMs * 2) / 3) {
        this.#log.warn('zookeeper: the server stopped answering, connecting again');
        this.#probeSentAt = undefined;
        librarySocket(this.#client)?.destroy();
      }
      return;
    }
    const client = this.#client;
    this.#probeSentAt = Date.now();
    try {
      // Any answer, even an error, shows the connection is served.
      client.exists('/', () => {
        if (client === this.#client) this.#probeSentAt = undefined;
      });
    } catch {
      this.#probeSentAt = undefined;
    }
  }

  /** Connects; fails with a BackendError when ZooKeeper does not answer within the timeout. */
  static async open(
    zk: ZkModule,
    config: ZooKeeperConfig,
    log: Logger,
    hooks: SessionHooks,
  ): Promise<ZooKeeperSession> {
    const session = new ZooKeeperSession(zk, config, log, hooks);
    session.#start(false);
    try {
      await session.client(Date.now() + config.connectTimeoutMs);
    } catch (error) {
      await session.close();
      throw new BackendError(
        `cannot reach ZooKeeper at ${config.connectString} within ${config.connectTimeoutMs}ms`,
        { cause: error },
      );
    }
    return session;
  }

  get connected(): boolean {
    return this.#connected;
  }

  /** The current session's id, to tell our own ephemeral nodes from others'. */
  sessionId(): Buffer {
    return this.#client.getSessionId();
  }

  /** The current session's id and password (another client may take the session over with them). */
  credentials(): { id: Buffer; password: Buffer } {
    return { id: this.#client.getSessionId(), password: this.#client.getSessionPassword() };
  }

  #start(fresh: boolean): void {
    this.#disconnectedSince = undefined;
    const client = this.#zk.createClient(this.#config.connectString, {
      sessionTimeout: this.#config.sessionTimeoutMs,
      spinDelay: 500,
    });
    // Sent with every (re)connection: the identity the nodes' ACLs name.
    if (this.#config.digest !== undefined) {
      client.addAuthInfo('digest', Buffer.from(this.#config.digest));
    }
    this.#client = client;
    this.#fresh = fresh;
    client.on('state', (state: Zk.State) => this.#onState(client, state));
    client.connect();
    this.#armWatchdog();
  }

  /** While disconnected, drops a socket that got no answer to its handshake (see librarySocket). */
  #armWatchdog(): void {
    if (this.#watchdog) return;
    let last: Socket | undefined;
    this.#watchdog = setInterval(() => {
      if (this.#connected || this.#closed) {
        clearInterval(this.#watchdog);
        this.#watchdog = undefined;
        return;
      }
      if (
        this.#disconnectedSince !== undefined &&
        Date.now() - this.#disconnectedSince > this.#config.sessionTimeoutMs
      ) {
        this.#abandonSession();
        return;
      }
      const socket = librarySocket(this.#client);
      if (socket && socket === last && !socket.connecting && !socket.destroyed) {
        this.#log.debug('zookeeper: no answer to the handshake, connecting again');
        socket.destroy();
      }
      last = socket;
    }, HANDSHAKE_TIMEOUT_MS);
    this.#watchdog.unref();
  }

  /**
   * Out of touch for longer than the session timeout: the session is as
   * good as expired, and the server may never say so. A server that lost
   * its data refuses every reconnection of an old session (the client has
   * seen newer transactions than it has) and the library would retry it
   * forever. A new session starts over; nodes the old one left, if it
   * still lives, are replaced by the new session's.
   */
  #abandonSession(): void {
    const old = this.#client;
    this.#log.warn(
      'zookeeper: out of touch for longer than the session timeout, starting a new session',
    );
    this.#start(true);
    old.close();
  }

  #onState(client: ZkClient, state: Zk.State): void {
    // Events of a client we replaced or closed say nothing about the session.
    if (client !== this.#client || this.#closed) return;
    const { State } = this.#zk;
    this.#log.debug('zookeeper: state', { state: state.name });
    if (state === State.SYNC_CONNECTED || state === State.CONNECTED_READ_ONLY) {
      this.#connected = true;
      this.#probeSentAt = undefined;
      this.#disconnectedSince = undefined;
      if (this.#outage) this.#log.info('zookeeper: connected again');
      this.#outage = false;
      for (const wake of this.#waiters) wake();
      const fresh = this.#fresh;
      this.#fresh = false;
      if (fresh) this.#hooks.onNewSession();
      else this.#hooks.onReconnect();
    } else if (state === State.DISCONNECTED) {
      this.#connected = false;
      if (!this.#outage) this.#log.warn('zookeeper: connection lost, reconnecting');
      this.#outage = true;
      // Only a session that was established can be lost; a new client has none yet (id 0).
      const hasSession = client.getSessionId().some((byte) => byte !== 0);
      if (this.#disconnectedSince === undefined && hasSession) this.#disconnectedSince = Date.now();
      this.#armWatchdog();
    } else if (state === State.EXPIRED) {
      this.#connected = false;
      this.#outage = true;
      this.#log.warn('zookeeper: session expired, starting a new one');
      this.#start(true);
      client.close();
    } else if (state === State.AUTH_FAILED) {
      this.#log.error('zookeeper: authentication failed');
    }
  }

  /** A connected client, waiting until `deadline` (epoch ms) for one. */
  async client(deadline: number): Promise<ZkClient> {
    while (!this.#connected) {
      if (this.#closed) throw new BackendError('the ZooKeeper registry is closed');
      const left = deadline - Date.now();
      if (left <= 0)
        throw new BackendError(`no connection to ZooKeeper at ${this.#config.connectString}`);
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          this.#waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, left);
        this.#waiters.add(done);
      });
    }
    return this.#client;
  }

  /**
   * Runs one request on a connected client. Connection losses and expiries
   * are retried on the next connection until the timeout; other ZooKeeper
   * errors fail at once with their code in `data.zookeeperCode`.
   */
  async call<T>(what: string, request: (client: ZkClient, done: Callback<T>) => void): Promise<T> {
    const deadline = Date.now() + this.#config.timeoutMs;
    const { Exception } = this.#zk;
    for (;;) {
      const client = await this.client(deadline);
      try {
        return await this.#once(what, client, request, deadline);
      } catch (error) {
        const code = zkCode(error);
        const retry = code === Exception.CONNECTION_LOSS || code === Exception.SESSION_EXPIRED;
        if (!retry || this.#closed || Date.now() >= deadline) throw error;
        await sleep(50);
      }
    }
  }

  /**
   * Requests made in one turn of the event loop leave in one write. The
   * library writes each request to its socket as it is made: reading 500
   * nodes made 500 system calls. Corked until the turn's end, they leave
   * in one writev (a `list()` of 500: about 35 → 31 ms of CPU).
   */
  #coalesce(client: ZkClient): void {
    const socket = librarySocket(client);
    if (!socket || socket === this.#corked || socket.destroyed) return;
    socket.cork();
    this.#corked = socket;
    setImmediate(() => {
      if (this.#corked === socket) this.#corked = undefined;
      socket.uncork();
    });
  }

  #once<T>(
    what: string,
    client: ZkClient,
    request: (client: ZkClient, done: Callback<T>) => void,
    deadline: number,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () =>
          reject(
            new BackendError(
              `ZooKeeper at ${this.#config.connectString} did not answer ${what} within ${this.#config.timeoutMs}ms`,
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
      try {
        this.#coalesce(client);
        request(client, (error, value) => {
          clearTimeout(timer);
          if (!error) resolve(value as T);
          else {
            const code = 'getCode' in error ? error.getCode() : undefined;
            reject(
              new BackendError(`ZooKeeper ${what} failed: ${error.toString()}`, {
                cause: error,
                data: { zookeeperCode: code },
              }),
            );
          }
        });
      } catch (error) {
        // The library asserts its arguments synchronously.
        clearTimeout(timer);
        reject(new BackendError(`ZooKeeper ${what} failed: ${String(error)}`, { cause: error }));
      }
    });
  }

  /** Ends the session (the server then deletes its ephemeral nodes); waits a little for that. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#watchdog);
    clearInterval(this.#heartbeat);
    for (const wake of this.#waiters) wake();
    const client = this.#client;
    const wasConnected = this.#connected;
    this.#connected = false;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, wasConnected ? 3000 : 0);
      client.once('disconnected', () => {
        clearTimeout(timer);
        resolve();
      });
      client.close();
    });
  }
}
