import * as net from 'node:net';
import { dirname } from 'node:path';
import * as tls from 'node:tls';
import { CancelToken } from '../cancel.js';
import {
  CancelledError,
  ConfigError,
  MalformedRequestError,
  UnknownServiceError,
  toWireError,
} from '../errors.js';
import type { Logger } from '../log/logger.js';
import { listen, peerName } from '../listen.js';
import type { ClusterAuth } from '../security/auth.js';
import type { MsgpackSerializer } from '../serializers/msgpack.js';
import { isThenable } from '../sync.js';
import type { Limits } from '../limits.js';
import { FrameDecoder, FrameWriter, type FrameBudget } from './net-frames.js';
import { ConnectionSweep, backpressuredWrite, type SweptConnection } from './net-guard.js';
import { CANCEL, CREDIT, ITEM, REPLY_ERROR, REPLY_OK, REQUEST, STREAM } from './net-wire.js';
import { parseCallHeaderList, parseCallHeaders } from '../zmq/wire-check.js';
import { MAX_CREDIT, StreamPump } from './stream.js';
import { IdTable } from './id-table.js';
import { localSocketPath, removeIfStale, sweepStale } from './net-local.js';
import {
  receivedTimeout,
  type RpcAnswer,
  type RpcHandler,
  type RpcRequest,
  type RpcResponse,
} from './transport.js';

export interface NetRpcServerOptions {
  serializer: MsgpackSerializer;
  maxFrameBytes: number;
  limits: Limits;
  /** shared with the client connections of the same process */
  budget: FrameBudget;
  log: Logger;
  /** the cluster handshake every caller passes before any of its bytes is decoded */
  auth: ClusterAuth;
  /** counts (and reports) a frame that could not be read; its connection is closed */
  badFrame: (source: string, err: unknown) => void;
  /** serve over TLS with these options (endpoint `tls://`); a peer failing the handshake is reported to `refused` */
  tls?: { options: tls.TlsOptions; refused: (source: string, err: Error) => void };
}

/**
 * The serving side of the `net` transport: accepts callers' connections,
 * decodes their frames, runs each request through the handler and writes
 * its reply (or a stream's items) back on the same connection.
 */
export class NetRpcServer {
  readonly #serializer: MsgpackSerializer;
  readonly #maxFrameBytes: number;
  readonly #log: Logger;
  readonly #auth: ClusterAuth;
  readonly #badFrame: (source: string, err: unknown) => void;
  readonly #limits: Limits;
  readonly #budget: FrameBudget;
  readonly #tls: NetRpcServerOptions['tls'];
  /** every connection, its handshake done or not (what the cap counts) */
  readonly #sockets = new Set<net.Socket>();
  /** the connections past their handshake, being served (what the idle sweep looks at) */
  readonly #peers = new Map<net.Socket, ServerPeer>();
  #sweep: ConnectionSweep | undefined;
  readonly #services = new Set<string>();
  #server: net.Server | undefined;
  /** the unix socket beside the TCP port, for callers on this host (see net-local.ts) */
  #local: net.Server | undefined;
  #localTried = false;
  /** the sweep of stale socket files beside ours, stopped by close */
  #sweeping: Promise<void> | undefined;
  readonly #stopSweep = new AbortController();
  /** callers on this host connected by the unix socket now */
  #localSockets = 0;
  #endpoint: string | undefined;
  #handler: RpcHandler | undefined;
  #closed = false;

  constructor(options: NetRpcServerOptions) {
    this.#serializer = options.serializer;
    this.#maxFrameBytes = options.maxFrameBytes;
    this.#limits = options.limits;
    this.#budget = options.budget;
    this.#log = options.log;
    this.#auth = options.auth;
    this.#badFrame = options.badFrame;
    this.#tls = options.tls;
  }

  /** Callers' connections open now. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Callers' connections open now by the unix socket (callers on this host). */
  get localConnections(): number {
    return this.#localSockets;
  }

  /** Serves `services` (adding to those served already); resolves to the endpoint. */
  async listen(services: readonly string[], handler: RpcHandler, host: string): Promise<string> {
    // A second listen widens what this process serves; the socket stays the same.
    for (const s of services) this.#services.add(s);
    this.#handler = handler;
    if (this.#endpoint) return this.#endpoint;
    const secure = this.#tls;
    // Over TLS, a connection reaches #accept only once its handshake proved the cluster's key.
    const server = secure
      ? tls
          .createServer(secure.options, (socket) => this.#accept(socket.setNoDelay(true)))
          .on('tlsClientError', (err, socket) =>
            secure.refused(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, err),
          )
      : net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server = server;
    await listen(server, { port: 0, host });
    server.on('error', (err) => this.#log.error('rpc server error', { err: String(err) }));
    const address = server.address() as net.AddressInfo;
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#endpoint = `${secure ? 'tls' : 'tcp'}://${shown}:${address.port}`;
    const { idleTimeout, maxConnections } = this.#limits;
    this.#sweep = new ConnectionSweep({
      idleTimeout,
      connections: () => this.#peers.values(),
      report: (idle, refused) =>
        this.#log.warn('rpc connections closed', {
          idle,
          idleTimeoutMs: idleTimeout,
          refusedOverCap: refused,
          maxConnections,
          open: this.#sockets.size,
        }),
    });
    return this.#endpoint;
  }

  /**
   * Also serves callers on this host at the unix socket of `endpoint` (the
   * published one) unless `serve` is false; a file left there by a process
   * killed while it served the same endpoint is removed either way (only
   * when nothing listens on it). A socket that cannot be had leaves TCP
   * alone (logged). Once it serves, it sweeps the folder's other stale
   * socket files in the background (see sweepStale).
   */
  async listenLocal(endpoint: string, serve: boolean): Promise<void> {
    if (this.#localTried || this.#closed) return;
    this.#localTried = true;
    const path = localSocketPath(endpoint);
    if (path === undefined) return;
    // Binding a path that exists fails (EADDRINUSE) even when nobody listens there.
    const there = await removeIfStale(path);
    if (!serve || this.#closed) return;
    if (there === 'live') {
      // Another live process serves a socket of the same name (two instances publishing
      // the same host and port, bound to different addresses): it keeps it.
      this.#log.warn('rpc: another process serves this unix socket (TCP only)', { path });
      return;
    }
    const local = net.createServer((socket) => {
      this.#localSockets++;
      socket.once('close', () => this.#localSockets--);
      this.#accept(socket);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        local.once('error', reject);
        local.listen(path, () => {
          local.off('error', reject);
          resolve();
        });
      });
    } catch (err) {
      this.#log.debug('rpc: no unix socket for callers on this host (TCP only)', {
        path,
        err: String(err),
      });
      return;
    }
    if (this.#closed) {
      // close() ran while it bound: it closed nothing of this.
      local.close();
      return;
    }
    local.on('error', (err) => this.#log.error('rpc local socket error', { err: String(err) }));
    this.#local = local;
    // Not awaited: the start does not wait for it; close stops it.
    this.#sweeping = sweepStale(path, this.#stopSweep.signal).then(
      ({ looked, removed }) => {
        const fields = { folder: dirname(path), looked, removed };
        if (removed > 0)
          this.#log.info('rpc: removed stale unix socket files of killed processes', fields);
        else this.#log.debug('rpc: no stale unix socket files removed', fields);
      },
      () => {},
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#sweep?.stop();
    for (const socket of this.#sockets.keys()) socket.destroy();
    this.#sockets.clear();
    this.#stopSweep.abort();
    await this.#sweeping;
    const local = this.#local;
    // Closing a unix socket's server removes its file.
    if (local) await new Promise<void>((resolve) => local.close(() => resolve()));
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  #accept(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    // Over the cap, a connection is closed before anything of it is read (counted, then logged by the sweep).
    if (this.#sockets.size >= this.#limits.maxConnections) {
      this.#sweep?.refused();
      socket.destroy();
      return;
    }
    this.#sockets.add(socket);
    socket.once('close', () => this.#sockets.delete(socket));
    this.#auth.accept(socket, 'rpc', (rest) => this.#serveSocket(socket, rest));
  }

  /** Serves an authenticated caller; `rest` is what it sent behind the handshake. */
  #serveSocket(socket: net.Socket, rest: Buffer): void {
    const source = peerName(socket);
    const write = backpressuredWrite(socket, {
      limit: this.#limits.writeBufferBytes,
      pauseReading: true,
      over: (queued) =>
        this.#log.warn('rpc peer does not read its replies: dropping it', {
          source,
          queuedBytes: queued,
          limit: this.#limits.writeBufferBytes,
        }),
    });
    const writer = new FrameWriter((bytes) => {
      peer.lastActive = performance.now();
      write(bytes);
    });
    const peer: ServerPeer = {
      socket,
      writer,
      running: new IdTable(),
      lastActive: performance.now(),
      busy: () => peer.running.size > 0,
    };
    this.#peers.set(socket, peer);
    const decoder = new FrameDecoder(this.#maxFrameBytes, this.#budget);
    const onFrame = (buf: Buffer, start: number, end: number) => this.#serve(buf, start, end, peer);
    const onData = (chunk: Buffer) => {
      peer.lastActive = performance.now();
      // The replies of the requests answered at once go out together when the chunk is read.
      writer.hold();
      try {
        decoder.pushRange(chunk, onFrame);
      } catch (err) {
        this.#badFrame(source, err);
        writer.clear();
        socket.destroy();
      } finally {
        writer.release();
      }
    };
    socket.on('data', onData);
    if (rest.length > 0) onData(rest);
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      writer.clear();
      decoder.release();
      this.#peers.delete(socket);
      // The caller went away: its workers and streams are told to stop.
      const running = [...peer.running.values()];
      peer.running.clear();
      for (const call of running) call.cancel.abort(new CancelledError('the caller went away'));
    });
  }

  /** Decodes one frame and acts on it; throws (closing the connection) when it cannot be read. */
  #serve(buf: Buffer, start: number, end: number, peer: ServerPeer): void {
    const msg = this.#serializer.decodeRange(buf, start, end);
    if (!Array.isArray(msg) || typeof msg[1] !== 'number') {
      throw new MalformedRequestError('not an rpc request frame');
    }
    const id = msg[1];
    switch (msg[0]) {
      case REQUEST:
      case STREAM:
        return this.#request(msg, id, peer);
      case CANCEL:
        peer.running.get(id)?.cancel.abort(new CancelledError('the caller cancelled the call'));
        return;
      case CREDIT: {
        const n: unknown = msg[2];
        if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > MAX_CREDIT) {
          throw new MalformedRequestError('a credit frame needs a count of items');
        }
        peer.running.get(id)?.pump?.credit(n as number);
        return;
      }
      default:
        throw new MalformedRequestError('not an rpc request frame');
    }
  }

  /** Runs one request (or opens one stream). */
  #request(msg: unknown[], id: number, peer: ServerPeer): void {
    const service: unknown = msg[2];
    const method: unknown = msg[3];
    const timeout = receivedTimeout(msg[6]);
    const args: unknown = msg[7];
    if (
      typeof service !== 'string' ||
      typeof method !== 'string' ||
      Number.isNaN(timeout) ||
      (args !== undefined && !Array.isArray(args))
    ) {
      this.#reply(peer, id, {
        ok: false,
        error: toWireError(new MalformedRequestError('request needs service, method and headers')),
      });
      return;
    }
    let headers;
    try {
      // Sent as a list; a map, as callers sent before the list, is still read (upgrade servers first).
      headers = Array.isArray(msg[5]) ? parseCallHeaderList(msg[5]) : parseCallHeaders(msg[5]);
    } catch (err) {
      this.#reply(peer, id, { ok: false, error: toWireError(err) });
      return;
    }
    const handler = this.#handler;
    if (!handler || !this.#services.has(service)) {
      this.#reply(peer, id, {
        ok: false,
        error: toWireError(new UnknownServiceError(`service "${service}" is not served here`)),
      });
      return;
    }
    const cancel = new CancelToken();
    const request: RpcRequest = { service, method, params: msg[4], headers, cancel };
    if (timeout !== undefined) request.timeout = timeout;
    if (args !== undefined) request.args = args as unknown[];
    if (msg[0] === STREAM) request.stream = true;
    let answer: RpcAnswer | Promise<RpcAnswer>;
    try {
      answer = handler(request);
    } catch (err) {
      answer = { ok: false, error: toWireError(err) };
    }
    // A request answered synchronously is replied to without a promise, and
    // never listed as running: nothing could cancel it any more.
    if (!isThenable(answer)) return this.#answer(peer, id, request, answer, undefined);
    const call: RunningCall = { cancel, pump: undefined };
    peer.running.set(id, call);
    answer.then(
      (a) => this.#answer(peer, id, request, a, call),
      (err: unknown) =>
        this.#answer(peer, id, request, { ok: false, error: toWireError(err) }, call),
    );
  }

  #answer(
    peer: ServerPeer,
    id: number,
    request: RpcRequest,
    answer: RpcAnswer,
    listed: RunningCall | undefined,
  ): void {
    if (answer.ok !== 'stream') {
      if (listed && peer.running.get(id) === listed) peer.running.delete(id);
      this.#reply(peer, id, answer);
      return;
    }
    const call = listed ?? { cancel: request.cancel!, pump: undefined };
    peer.running.set(id, call);
    call.pump = new StreamPump(
      answer.items,
      {
        item: (value) => {
          const body = this.#serializer.encode([ITEM, id, value]);
          if (body.length > this.#maxFrameBytes) {
            throw new ConfigError(`an item of ${body.length} bytes is over the frame limit`);
          }
          peer.writer.push(body, true);
        },
        end: (response) => {
          if (peer.running.get(id) === call) peer.running.delete(id);
          if (response) this.#reply(peer, id, response);
        },
      },
      {
        what: `${request.service}.${request.method}`,
        ...(request.timeout === undefined ? {} : { timeout: request.timeout }),
        cancel: call.cancel,
      },
    );
  }

  #reply(peer: ServerPeer, id: number, response: RpcResponse): void {
    let body: Buffer;
    try {
      body = response.ok
        ? this.#serializer.encode([REPLY_OK, id, response.result])
        : this.#serializer.encode([REPLY_ERROR, id, response.error]);
    } catch (err) {
      body = this.#serializer.encode([REPLY_ERROR, id, toWireError(err)]);
    }
    if (body.length > this.#maxFrameBytes) {
      const err = new ConfigError(`reply of ${body.length} bytes is over the frame limit`);
      body = this.#serializer.encode([REPLY_ERROR, id, toWireError(err)]);
    }
    // Other requests of this caller still running: their replies may join this one's write.
    peer.writer.push(body, peer.running.size > 0);
  }
}

/** A caller's connection as its server sees it: where replies go, and what runs for it. */
interface ServerPeer extends SweptConnection {
  writer: FrameWriter;
  /**
   * The calls of this connection still running, by request id: those not
   * answered synchronously, and streams. A cancel frame or the
   * connection's close aborts them.
   */
  running: IdTable<RunningCall>;
}

interface RunningCall {
  cancel: CancelToken;
  pump: StreamPump | undefined;
}
