import * as net from 'node:net';
import type { BackendContext } from '../backends.js';
import type { CallHeaders } from '../context-headers.js';
import {
  ConfigError,
  ConnectionLostError,
  MalformedRequestError,
  UnknownServiceError,
  fromWireError,
  toWireError,
} from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../registry/registry.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../serializers/serializer.js';
import { listen } from '../listen.js';
import { isThenable } from '../sync.js';
import { FrameDecoder, FrameWriter } from './net-frames.js';
import { PendingCalls } from './pending.js';
import { InstancePicker } from './picker.js';
import type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './transport.js';

// Wire messages are MessagePack arrays, positional to keep frames small and
// decoding cheap: [REQUEST, id, service, method, params, headers, args?],
// [REPLY_OK, id, result], [REPLY_ERROR, id, wireError].
const REQUEST = 0;
const REPLY_OK = 1;
const REPLY_ERROR = 2;

/** Options of {@link NetRpcTransport}. */
export interface NetRpcOptions {
  /** largest frame accepted or sent, in bytes (16 MiB by default) */
  maxFrameBytes?: number;
}

/** Counters a transport keeps about its peers' misbehaviour. */
export interface NetRpcStats {
  /** frames refused as empty, oversized or undecodable (each closed its connection) */
  badFrames: number;
}

/**
 * Direct RPC over TCP: length-prefixed MessagePack frames, one connection
 * per peer reused by every call and multiplexed by request id, writes
 * coalesced per tick. Instances are chosen round-robin from the registry;
 * a peer that drops fails its pending calls at once and is left out of
 * later picks until the registry lists it again.
 */
export class NetRpcTransport implements RpcTransport {
  readonly kind = 'net';
  readonly #ctx: BackendContext;
  readonly #log: Logger;
  readonly #serializer: MsgpackSerializer;
  readonly #maxFrameBytes: number;
  readonly #picker: InstancePicker;
  readonly #clients = new Map<string, ClientConnection>();
  readonly #serverSockets = new Set<net.Socket>();
  readonly #loggedSources = new Set<string>();
  #server: net.Server | undefined;
  #endpoint: string | undefined;
  #services = new Set<string>();
  #handler: RpcHandler | undefined;
  #nextId = 0;
  #closed = false;
  #badFrames = 0;

  constructor(registry: Registry, ctx: BackendContext, options: NetRpcOptions = {}) {
    this.#ctx = ctx;
    this.#log = ctx.log;
    this.#maxFrameBytes = options.maxFrameBytes ?? DEFAULT_MAX_MESSAGE_BYTES;
    this.#serializer = new MsgpackSerializer({ maxBytes: this.#maxFrameBytes });
    this.#picker = new InstancePicker(registry);
  }

  stats(): NetRpcStats {
    return { badFrames: this.#badFrames };
  }

  async listen(services: readonly string[], handler: RpcHandler): Promise<Record<string, string>> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    // A second listen widens what this process serves; the socket stays the same.
    for (const s of services) this.#services.add(s);
    this.#handler = handler;
    if (this.#endpoint) return { rpc: this.#endpoint };
    const server = net.createServer({ noDelay: true }, (socket) => this.#accept(socket));
    this.#server = server;
    await listen(server, { port: 0, host: this.#ctx.bindHost });
    server.on('error', (err) => this.#log.error('rpc server error', { err: String(err) }));
    const address = server.address() as net.AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    this.#endpoint = `tcp://${host}:${address.port}`;
    return { rpc: this.#endpoint };
  }

  // Not async: on the hot path (address known or instance cached) this stays
  // one promise per call instead of three.
  call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closed) return Promise.reject(new ConnectionLostError('the RPC transport is closed'));
    if (options.address !== undefined) return this.#callAt(options.address, request, options);
    const known = this.#picker.pickKnown(request.service);
    if (known !== undefined) return this.#callAt(known, request, options);
    return this.#picker
      .pick(request.service)
      .then((endpoint) => this.#callAt(endpoint, request, options));
  }

  #callAt(endpoint: string, request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closed) return Promise.reject(new ConnectionLostError('the RPC transport is closed'));
    let conn = this.#clients.get(endpoint);
    try {
      if (!conn) {
        conn = new ClientConnection(endpoint, this);
        this.#clients.set(endpoint, conn);
      }
      const id = (this.#nextId = (this.#nextId + 1) % 0x7fffffff);
      const { service, method, params, headers, args } = request;
      const body = this.#serializer.encode(
        args === undefined
          ? [REQUEST, id, service, method, params, headers]
          : [REQUEST, id, service, method, params, headers, args],
      );
      return conn.send(id, body, request, options.timeout);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#picker.close();
    for (const conn of this.#clients.values()) conn.destroy('the RPC transport is closed');
    this.#clients.clear();
    for (const socket of this.#serverSockets) socket.destroy();
    this.#serverSockets.clear();
    const server = this.#server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  // Internal surface of ClientConnection, kept off the public interface.

  /** @internal */
  get maxFrameBytes(): number {
    return this.#maxFrameBytes;
  }

  /** @internal */
  decode(body: Buffer): unknown {
    return this.#serializer.decode(body);
  }

  /** @internal A client connection dropped: forget it and stop picking its peer. */
  lost(conn: ClientConnection, services: Iterable<string>): void {
    if (this.#clients.get(conn.endpoint) === conn) this.#clients.delete(conn.endpoint);
    for (const service of services) this.#picker.evict(service, conn.endpoint);
  }

  /** @internal Counts a bad frame and logs it once per source. */
  badFrame(source: string, err: unknown): void {
    this.#badFrames++;
    const host = source.replace(/:\d+$/, '');
    if (this.#loggedSources.has(host)) return;
    // Bounded so a flood of sources cannot grow it without end.
    if (this.#loggedSources.size < 1000) this.#loggedSources.add(host);
    this.#log.warn('bad rpc frame: closing the connection', {
      source,
      err: err instanceof Error ? err.message : String(err),
    });
  }

  #accept(socket: net.Socket): void {
    if (this.#closed) {
      socket.destroy();
      return;
    }
    this.#serverSockets.add(socket);
    const source = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    const writer = new FrameWriter((bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    const decoder = new FrameDecoder(this.#maxFrameBytes);
    const onFrame = (body: Buffer) => this.#serve(body, writer);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, onFrame);
      } catch (err) {
        this.badFrame(source, err);
        writer.clear();
        socket.destroy();
      }
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => {
      writer.clear();
      this.#serverSockets.delete(socket);
    });
  }

  /** Decodes and runs one request; throws (closing the connection) when it cannot be read. */
  #serve(body: Buffer, writer: FrameWriter): void {
    const msg = this.#serializer.decode(body);
    if (!Array.isArray(msg) || msg[0] !== REQUEST || typeof msg[1] !== 'number') {
      throw new MalformedRequestError('not an rpc request frame');
    }
    const id = msg[1];
    const service: unknown = msg[2];
    const method: unknown = msg[3];
    const headers: unknown = msg[5];
    const args: unknown = msg[6];
    if (
      typeof service !== 'string' ||
      typeof method !== 'string' ||
      !isHeaders(headers) ||
      (args !== undefined && !Array.isArray(args))
    ) {
      this.#reply(writer, id, {
        ok: false,
        error: toWireError(new MalformedRequestError('request needs service, method and headers')),
      });
      return;
    }
    const handler = this.#handler;
    if (!handler || !this.#services.has(service)) {
      this.#reply(writer, id, {
        ok: false,
        error: toWireError(new UnknownServiceError(`service "${service}" is not served here`)),
      });
      return;
    }
    const request: RpcRequest = { service, method, params: msg[4], headers };
    if (args !== undefined) request.args = args as unknown[];
    let answer: RpcResponse | Promise<RpcResponse>;
    try {
      answer = handler(request);
    } catch (err) {
      answer = { ok: false, error: toWireError(err) };
    }
    // A request answered synchronously is replied to without a promise.
    if (isThenable(answer)) {
      answer.then(
        (response) => this.#reply(writer, id, response),
        (err: unknown) => this.#reply(writer, id, { ok: false, error: toWireError(err) }),
      );
    } else this.#reply(writer, id, answer);
  }

  #reply(writer: FrameWriter, id: number, response: RpcResponse): void {
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
    writer.push(body);
  }
}

function isHeaders(value: unknown): value is CallHeaders {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The one reused connection to one peer endpoint, multiplexing calls by id. */
class ClientConnection {
  readonly endpoint: string;
  readonly #owner: NetRpcTransport;
  readonly #socket: net.Socket;
  readonly #writer: FrameWriter;
  readonly #decoder: FrameDecoder;
  readonly #pending = new PendingCalls<number, RpcResponse>();
  readonly #services = new Set<string>();
  #dead: string | undefined;

  constructor(endpoint: string, owner: NetRpcTransport) {
    this.endpoint = endpoint;
    this.#owner = owner;
    const { host, port } = parseEndpoint(endpoint);
    this.#decoder = new FrameDecoder(owner.maxFrameBytes);
    // Writes before the connect completes are buffered by the socket itself.
    const socket = net.connect({ host, port, noDelay: true });
    this.#socket = socket;
    this.#writer = new FrameWriter((bytes) => {
      if (!socket.destroyed) socket.write(bytes);
    });
    const onFrame = (body: Buffer) => this.#onReply(body);
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk, onFrame);
      } catch (err) {
        owner.badFrame(endpoint, err);
        this.destroy(`bad frame from ${endpoint}`);
      }
    });
    socket.on('error', (err) => {
      this.#dead ??= `connection to ${endpoint} was lost (${err.message})`;
    });
    socket.on('close', () => this.destroy(`connection to ${endpoint} was lost`));
  }

  send(id: number, body: Buffer, request: RpcRequest, timeout: number): Promise<RpcResponse> {
    if (body.length > this.#owner.maxFrameBytes) {
      return Promise.reject(
        new ConfigError(`request of ${body.length} bytes is over the frame limit`),
      );
    }
    this.#services.add(request.service);
    const answer = this.#pending.wait(id, timeout, request.service, request.method, undefined);
    // Other calls awaiting replies: more are likely to come in this turn.
    this.#writer.push(body, this.#pending.size > 1);
    return answer;
  }

  destroy(reason: string): void {
    const why = this.#dead ?? reason;
    this.#dead = why;
    this.#writer.clear();
    this.#socket.destroy();
    this.#owner.lost(this, this.#services);
    this.#pending.failAll(new ConnectionLostError(why));
  }

  #onReply(body: Buffer): void {
    const msg = this.#owner.decode(body);
    if (
      !Array.isArray(msg) ||
      typeof msg[1] !== 'number' ||
      (msg[0] !== REPLY_OK && msg[0] !== REPLY_ERROR)
    ) {
      // Thrown before the call is taken, so that the connection's loss fails it too.
      throw new MalformedRequestError('not an rpc reply frame');
    }
    const p = this.#pending.take(msg[1]);
    // A reply whose call already timed out is dropped.
    if (!p) return;
    if (msg[0] === REPLY_OK) p.resolve({ ok: true, result: msg[2] });
    // Normalised through the catalogue: the peer's bytes are not trusted to be well shaped.
    else p.resolve({ ok: false, error: toWireError(fromWireError(msg[2])) });
  }
}

/** `tcp://host:port` → its parts; a ConfigError for anything else. */
export function parseEndpoint(endpoint: string): { host: string; port: number } {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(endpoint);
  const port = m ? Number(m[2]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(`bad rpc endpoint "${endpoint}": expected tcp://host:port`);
  }
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port };
}
