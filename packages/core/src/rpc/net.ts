import * as net from 'node:net';
import type { BackendContext } from '../backends.js';
import { CancelToken } from '../cancel.js';
import type { CallHeaders } from '../context-headers.js';
import {
  CancelledError,
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
import { MAX_CREDIT, StreamPump, StreamReader, itemsOf } from './stream.js';
import {
  receivedTimeout,
  type RpcAnswer,
  type RpcCallOptions,
  type RpcHandler,
  type RpcRequest,
  type RpcResponse,
  type RpcTransport,
} from './transport.js';

// Wire messages are MessagePack arrays, positional to keep frames small and
// decoding cheap. Caller to server:
//   [REQUEST, id, service, method, params, headers, timeoutMs, args?]
//   [STREAM, id, service, method, params, headers, timeoutMs, args?]  (a stream request)
//   [CREDIT, id, n]        the stream's reader takes n more items
//   [CANCEL, id]           stop the call's worker (or the stream's producer)
// Server to caller:
//   [REPLY_OK, id, result], [REPLY_ERROR, id, wireError]  (also a stream's end)
//   [ITEM, id, item]       one item of a stream
// `timeoutMs` is what remained of the caller's deadline when it sent the
// request (null: none), so that the two clocks need not agree.
const REQUEST = 0;
const REPLY_OK = 1;
const REPLY_ERROR = 2;
const CANCEL = 3;
const STREAM = 4;
const CREDIT = 5;
const ITEM = 6;

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
    }
    return conn;
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
    const { service, method, params, headers, args } = request;
    return this.#serializer.encode(
      args === undefined
        ? [kind, id, service, method, params, headers, options.timeout]
        : [kind, id, service, method, params, headers, options.timeout, args],
    );
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

  /** @internal */
  encode(message: unknown[]): Buffer {
    return this.#serializer.encode(message);
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
    const peer: ServerPeer = { writer, running: new Map() };
    const decoder = new FrameDecoder(this.#maxFrameBytes);
    const onFrame = (body: Buffer) => this.#serve(body, peer);
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
      // The caller went away: its workers and streams are told to stop.
      const running = [...peer.running.values()];
      peer.running.clear();
      for (const call of running) call.cancel.abort(new CancelledError('the caller went away'));
    });
  }

  /** Decodes one frame and acts on it; throws (closing the connection) when it cannot be read. */
  #serve(body: Buffer, peer: ServerPeer): void {
    const msg = this.#serializer.decode(body);
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
    const { writer } = peer;
    const service: unknown = msg[2];
    const method: unknown = msg[3];
    const headers: unknown = msg[5];
    const timeout = receivedTimeout(msg[6]);
    const args: unknown = msg[7];
    if (
      typeof service !== 'string' ||
      typeof method !== 'string' ||
      !isHeaders(headers) ||
      Number.isNaN(timeout) ||
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
      this.#reply(peer.writer, id, answer);
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
          if (response) this.#reply(peer.writer, id, response);
        },
      },
      {
        what: `${request.service}.${request.method}`,
        ...(request.timeout === undefined ? {} : { timeout: request.timeout }),
        cancel: call.cancel,
      },
    );
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

/** A caller's connection as its server sees it: where replies go, and what runs for it. */
interface ServerPeer {
  writer: FrameWriter;
  /**
   * The calls of this connection still running, by request id: those not
   * answered synchronously, and streams. A cancel frame or the
   * connection's close aborts them.
   */
  running: Map<number, RunningCall>;
}

interface RunningCall {
  cancel: CancelToken;
  pump: StreamPump | undefined;
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
  /** the readers of this connection's open streams, by request id */
  readonly #streams = new Map<number, StreamReader>();
  readonly #services = new Set<string>();
  readonly #cancel = (id: number) => this.#send([CANCEL, id]);
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

  send(
    id: number,
    body: Buffer,
    request: RpcRequest,
    options: RpcCallOptions,
  ): Promise<RpcResponse> {
    if (body.length > this.#owner.maxFrameBytes) {
      return Promise.reject(
        new ConfigError(`request of ${body.length} bytes is over the frame limit`),
      );
    }
    this.#services.add(request.service);
    const { timeout, cancel } = options;
    const answer =
      cancel === undefined
        ? this.#pending.wait(id, timeout, request.service, request.method, undefined)
        : this.#pending.wait(
            id,
            timeout,
            request.service,
            request.method,
            undefined,
            cancel,
            this.#cancel,
          );
    // A call cancelled before it was made is not sent.
    if (cancel?.aborted) return answer;
    // Other calls awaiting replies: more are likely to come in this turn.
    this.#writer.push(body, this.#pending.size > 1);
    return answer;
  }

  /** Opens a stream: the request, then the credit of a whole window. */
  stream(id: number, body: Buffer, request: RpcRequest, options: RpcCallOptions): StreamReader {
    const reader = new StreamReader({
      credit: (n) => {
        if (this.#streams.get(id) === reader) this.#send([CREDIT, id, n]);
      },
      stop: () => {
        if (this.#streams.get(id) !== reader) return;
        this.#streams.delete(id);
        this.#pending.reject(id, new CancelledError('the reader stopped'));
        this.#send([CANCEL, id]);
      },
    });
    this.#streams.set(id, reader);
    this.send(id, body, request, options).then(
      (response) => {
        if (this.#streams.get(id) === reader) this.#streams.delete(id);
        if (response.ok) reader.finish(response.result);
        else reader.fail(fromWireError(response.error));
      },
      // Cancelled (the server was told), timed out (the server stops at the same
      // deadline) or lost: nothing more to send.
      (err: unknown) => {
        if (this.#streams.get(id) === reader) this.#streams.delete(id);
        reader.fail(err);
      },
    );
    if (!options.cancel?.aborted) this.#send([CREDIT, id, reader.window]);
    return reader;
  }

  #send(message: unknown[]): void {
    if (this.#dead) return;
    this.#writer.push(this.#owner.encode(message), true);
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
      (msg[0] !== REPLY_OK && msg[0] !== REPLY_ERROR && msg[0] !== ITEM)
    ) {
      // Thrown before the call is taken, so that the connection's loss fails it too.
      throw new MalformedRequestError('not an rpc reply frame');
    }
    if (msg[0] === ITEM) {
      const id = msg[1];
      const reader = this.#streams.get(id);
      // An item of a stream this side stopped reading is dropped.
      if (reader && !reader.push(msg[2])) {
        throw new MalformedRequestError(`the server sent more items than ${this.endpoint} granted`);
      }
      return;
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
