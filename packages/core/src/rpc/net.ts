import { existsSync } from 'node:fs';
import type { Socket } from 'node:net';
import { advertiseHostOf, withHost } from '../advertise.js';
import type { BackendContext } from '../backends.js';
import { BadFrameLog } from '../bad-frames.js';
import { ConnectionLostError, RpcTimeoutError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../registry/registry.js';
import { ClusterAuth } from '../security/auth.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { limitsOf, type Limits } from '../limits.js';
import { ClientConnection, type ConnectionOwner } from './net-client.js';
import { FrameBudget } from './net-frames.js';
import { NetRpcServer } from './net-server.js';
import { isOwnHost, localSocketPath } from './net-local.js';
import { MAX_ATTEMPTS, afterFailure } from './failover.js';
import { connectTls, pskOf, RefusedPeers, tlsServerOptions } from './net-tls.js';
import { REQUEST, STREAM } from './net-wire.js';
import { InstancePicker } from './picker.js';
import { itemsOf } from './stream.js';
import { callHeaderList } from '../zmq/wire-check.js';
import type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './transport.js';

export { parseEndpoint } from './net-wire.js';

/** Options of {@link NetRpcTransport}. */
export interface NetRpcOptions {
  /** largest frame accepted or sent, in bytes (16 MiB by default; `limits.max_frame_bytes` otherwise) */
  maxFrameBytes?: number;
}

/** Counters a transport keeps about its peers' misbehaviour. */
export interface NetRpcStats {
  /** frames refused as empty, oversized or undecodable (each closed its connection) */
  badFrames: number;
  /** bytes of unfinished frames held now, across every connection */
  partialFrameBytes: number;
  /** callers' connections the server holds open now */
  connections: number;
  /** of those, the ones made by the unix socket of callers on this host */
  localConnections: number;
  /** callers refused because they did not prove they belong to the cluster */
  refusedPeers: number;
  /** peers whose TLS handshake failed (no cluster key, or not TLS at all) */
  tlsRefused: number;
}

/**
 * Direct RPC over TCP: length-prefixed MessagePack frames, one connection
 * per peer reused by every call and multiplexed by request id, writes
 * coalesced per tick. Instances are chosen round-robin from the registry;
 * a peer that drops fails its pending calls at once and is left out of
 * later picks for a while (see InstancePicker). A call whose request never
 * reached its instance (refused, or lost before it was written) goes to
 * another one within its deadline; one that may have run fails with
 * ConnectionLostError (at most once), unless its method is idempotent.
 */
export class NetRpcTransport implements RpcTransport, ConnectionOwner {
  readonly kind = 'net';
  readonly #ctx: BackendContext;
  readonly #log: Logger;
  readonly #serializer: MsgpackSerializer;
  readonly #maxFrameBytes: number;
  readonly #picker: InstancePicker;
  readonly #clients = new Map<string, ClientConnection>();
  readonly #bad: BadFrameLog;
  readonly #limits: Limits;
  readonly #budget: FrameBudget;
  readonly #server: NetRpcServer;
  readonly #auth: ClusterAuth;
  readonly #refused: RefusedPeers;
  #tlsKey: Buffer | undefined;
  #nextId = 0;
  #closed = false;
  #idleSweep: NodeJS.Timeout | undefined;

  constructor(registry: Registry, ctx: BackendContext, options: NetRpcOptions = {}) {
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#limits = limitsOf(ctx.limits);
    this.#maxFrameBytes = options.maxFrameBytes ?? this.#limits.maxFrameBytes;
    this.#budget = new FrameBudget(Math.max(this.#limits.partialFrameBytes, this.#maxFrameBytes));
    this.#bad = new BadFrameLog(this.#log, 'bad rpc frame: closed its connection');
    this.#serializer = new MsgpackSerializer({ maxBytes: this.#maxFrameBytes });
    this.#picker = new InstancePicker(registry);
    this.#auth = ctx.auth ?? new ClusterAuth({ cluster: ctx.cluster }, { log: this.#log });
    this.#refused = new RefusedPeers(this.#log);
    this.#server = new NetRpcServer({
      auth: this.#auth,
      ...(ctx.rpcTls
        ? {
            tls: {
              options: tlsServerOptions(this.#key()),
              refused: (source, err) => this.#refused.refused(source, err),
            },
          }
        : {}),
      serializer: this.#serializer,
      maxFrameBytes: this.#maxFrameBytes,
      limits: this.#limits,
      budget: this.#budget,
      log: this.#log,
      badFrame: (source, err) => this.badFrame(source, err),
    });
  }

  stats(): NetRpcStats {
    return {
      badFrames: this.#bad.count,
      partialFrameBytes: this.#budget.used,
      connections: this.#server.connections,
      localConnections: this.#server.localConnections,
      refusedPeers: this.#auth.refused,
      tlsRefused: this.#refused.count,
    };
  }

  async listen(services: readonly string[], handler: RpcHandler): Promise<Record<string, string>> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const bound = await this.#server.listen(services, handler, this.#ctx.bindHost);
    const endpoint = withHost(bound, advertiseHostOf(this.#ctx));
    // Callers on this host reach a `tcp://` endpoint by its unix socket (TLS stays on TCP).
    if (!this.#ctx.rpcTls) await this.#server.listenLocal(endpoint, this.#unix);
    return { rpc: endpoint };
  }

  // Not async: on the hot path (address known or instance cached) this stays
  // one promise per call instead of three.
  call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closed) return Promise.reject(new ConnectionLostError('the RPC transport is closed'));
    if (options.address !== undefined) return this.#callAt(options.address, request, options);
    const known = this.#picker.pickKnown(request.service);
    const deadline = Date.now() + options.timeout;
    const total = options.timeout;
    if (known !== undefined) return this.#attempt(known, request, options, deadline, total, 1);
    return this.#picker
      .pick(request.service)
      .then((endpoint) => this.#attempt(endpoint, request, options, deadline, total, 1));
  }

  /** One attempt of a call at `endpoint`; a failure that allows it goes on to another instance. */
  #attempt(
    endpoint: string,
    request: RpcRequest,
    options: RpcCallOptions,
    deadline: number,
    /** the call's own timeout, for the message of a later attempt's */
    total: number,
    attempt: number,
  ): Promise<RpcResponse> {
    // An error answer is the method's (or of a call it made) and is never retried: a
    // `SVC_ERR_CONTAINER_STOPPED` in it may come from a nested call of a method that ran.
    return this.#callAt(endpoint, request, options).then(undefined, (err: unknown) =>
      this.#again(
        err instanceof Error ? err : new Error(String(err)),
        endpoint,
        request,
        options,
        deadline,
        total,
        attempt,
      ),
    );
  }

  /**
   * After a failed attempt: the next one, on another instance, when the
   * request never reached this one, or when it may have run but its method
   * is idempotent, and time remains; else the failure itself.
   */
  #again(
    error: Error,
    endpoint: string,
    request: RpcRequest,
    options: RpcCallOptions,
    deadline: number,
    /** the call's own timeout, for the message of a later attempt's */
    total: number,
    attempt: number,
  ): Promise<RpcResponse> {
    const fail = () => Promise.reject(error);
    // A timeout of a later attempt ran on what remained: name the call's own.
    if (attempt > 1 && error instanceof RpcTimeoutError && error.code === RpcTimeoutError.code) {
      const what = `${request.service}.${request.method}`;
      return Promise.reject(new RpcTimeoutError(`${what} did not answer within ${total} ms`));
    }
    const next = afterFailure(error, this.#picker.idempotent(request.service, request.method));
    if (next === 'fail' || this.#closed || attempt >= MAX_ATTEMPTS) return fail();
    const left = deadline - Date.now();
    if (left <= 0 || options.cancel?.aborted) return fail();
    const other = this.#picker.pickKnown(request.service);
    // Nowhere else to go (a lone instance, or every one failed): the failure stands.
    if (other === undefined || this.#picker.isRefused(other)) return fail();
    this.#log.debug(
      next === 'repeat'
        ? 'repeating an idempotent call, cut by the loss of its instance, on another one'
        : 'sending a call its instance never got to another one',
      { call: `${request.service}.${request.method}`, endpoint, to: other, attempt },
    );
    const rest = { ...options, timeout: left };
    return this.#attempt(other, request, rest, deadline, total, attempt + 1);
  }

  #callAt(endpoint: string, request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closed) return Promise.reject(new ConnectionLostError('the RPC transport is closed'));
    try {
      const conn = this.#connection(endpoint);
      const id = this.#id();
      return conn.send(id, this.#encodeRequest(REQUEST, id, request, options), request, options);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  stream(request: RpcRequest, options: RpcCallOptions): AsyncIterator<unknown, unknown> {
    return this.#read(request, options);
  }

  /** A stream's items; a generator, so that the instance is picked when the reading starts. */
  async *#read(request: RpcRequest, options: RpcCallOptions): AsyncGenerator<unknown, unknown> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const endpoint =
      options.address ??
      this.#picker.pickKnown(request.service) ??
      (await this.#picker.pick(request.service));
    const conn = this.#connection(endpoint);
    const id = this.#id();
    const body = this.#encodeRequest(STREAM, id, request, options);
    return yield* itemsOf(conn.stream(id, body, request, options));
  }

  #connection(endpoint: string): ClientConnection {
    let conn = this.#clients.get(endpoint);
    if (!conn) {
      conn = new ClientConnection(endpoint, this);
      this.#clients.set(endpoint, conn);
      this.#sweepIdleClients();
    }
    return conn;
  }

  /**
   * Closes this side's connections idle for half the idle timeout: before
   * the server's own timeout closes them, which could cross a call just
   * sent. One timer for all of them, running while there are any.
   */
  #sweepIdleClients(): void {
    if (this.#idleSweep) return;
    const idle = this.#limits.idleTimeout / 2;
    this.#idleSweep = setInterval(
      () => {
        const now = performance.now();
        for (const conn of this.#clients.values()) {
          if (!conn.busy && now - conn.lastActive >= idle) conn.retire();
        }
        if (this.#clients.size === 0) {
          clearInterval(this.#idleSweep);
          this.#idleSweep = undefined;
        }
      },
      Math.min(Math.max(Math.floor(idle / 4), 50), 15_000),
    );
    this.#idleSweep.unref();
  }

  #id(): number {
    return (this.#nextId = (this.#nextId + 1) % 0x7fffffff);
  }

  #encodeRequest(
    kind: typeof REQUEST | typeof STREAM,
    id: number,
    request: RpcRequest,
    options: RpcCallOptions,
  ): Buffer {
    const { service, method, params, args } = request;
    const headers = callHeaderList(request.headers);
    return this.#serializer.encode(
      args === undefined
        ? [kind, id, service, method, params, headers, options.timeout]
        : [kind, id, service, method, params, headers, options.timeout, args],
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#idleSweep);
    this.#picker.close();
    for (const conn of this.#clients.values()) conn.destroy('the RPC transport is closed');
    this.#clients.clear();
    this.#refused.close();
    await this.#server.close();
    this.#bad.close();
  }

  // The surface ClientConnection and NetRpcServer use, kept off the public docs.

  /** @internal */
  get auth(): ClusterAuth {
    return this.#auth;
  }

  /** @internal */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** The cluster's TLS key, derived from its secret once, on first use. */
  #key(): Buffer {
    return (this.#tlsKey ??= pskOf(this.#auth.secret(), this.#ctx.cluster));
  }

  /** Whether same-host peers are reached by unix socket (`rpc_unix`, `SVC_RPC_UNIX`; on by default). */
  get #unix(): boolean {
    return this.#ctx.rpcUnix !== false;
  }

  /** @internal The unix socket serving `endpoint` on this host, when there is one to use. */
  localPath(endpoint: string, host: string): string | undefined {
    if (!this.#unix || !isOwnHost(host)) return undefined;
    const path = localSocketPath(endpoint);
    return path !== undefined && existsSync(path) ? path : undefined;
  }

  /** @internal */
  connectTls(host: string, port: number): Socket {
    return connectTls(host, port, this.#key());
  }

  /** @internal */
  get limits(): Limits {
    return this.#limits;
  }

  /** @internal */
  get budget(): FrameBudget {
    return this.#budget;
  }

  /** @internal */
  get log(): Logger {
    return this.#log;
  }

  /** @internal */
  decode(buf: Buffer, start: number, end: number, copyBinaries: boolean): unknown {
    return this.#serializer.decodeRange(buf, start, end, copyBinaries);
  }

  /** @internal */
  encode(message: unknown[]): Buffer {
    return this.#serializer.encode(message);
  }

  /** @internal A client connection was made: its peer is reachable again. */
  reached(conn: ClientConnection): void {
    this.#picker.reachable(conn.endpoint);
  }

  /** @internal A client connection dropped: forget it and stop picking its peer. */
  lost(conn: ClientConnection, services: Iterable<string>): void {
    if (this.#clients.get(conn.endpoint) === conn) this.#clients.delete(conn.endpoint);
    for (const service of services) this.#picker.evict(service, conn.endpoint);
  }

  /** @internal Counts a bad frame; the first is logged at once, repeats are summarised. */
  badFrame(source: string, err: unknown): void {
    this.#bad.add(source, err instanceof Error ? err.message : String(err));
  }
}
