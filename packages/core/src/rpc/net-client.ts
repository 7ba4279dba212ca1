import * as net from 'node:net';
import {
  CancelledError,
  ConfigError,
  ConnectionLostError,
  MalformedRequestError,
  fromWireError,
  toWireError,
} from '../errors.js';
import type { Limits } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { ClusterAuth } from '../security/auth.js';
import { NotDeliveredError } from './failover.js';
import { FrameDecoder, FrameWriter, type FrameBudget } from './net-frames.js';
import { backpressuredWrite } from './net-guard.js';
import { CANCEL, CREDIT, ITEM, REPLY_ERROR, REPLY_OK, parseEndpoint } from './net-wire.js';
import { PendingCalls } from './pending.js';
import { StreamReader } from './stream.js';
import type { RpcCallOptions, RpcRequest, RpcResponse } from './transport.js';

/** What a client connection needs of the transport that owns it. */
export interface ConnectionOwner {
  readonly maxFrameBytes: number;
  readonly limits: Limits;
  readonly budget: FrameBudget;
  readonly log: Logger;
  /** the handshake run before anything else is sent on a new connection */
  readonly auth: ClusterAuth;
  /** decodes the frame body at `buf[start, end)`, binary values as copies when `copyBinaries` */
  decode(buf: Buffer, start: number, end: number, copyBinaries: boolean): unknown;
  encode(message: unknown[]): Buffer;
  /** the connection dropped: forget it and stop picking its peer for these services */
  lost(conn: ClientConnection, services: Iterable<string>): void;
  /** the connection to the peer was made: it is reachable */
  reached(conn: ClientConnection): void;
  /** a frame from the peer could not be read (the connection is closed after) */
  badFrame(source: string, err: unknown): void;
  /** a connection over TLS-PSK to a `tls://` endpoint (throws a ConfigError when the cluster secret cannot be read) */
  connectTls(host: string, port: number): net.Socket;
  /** the unix socket of `endpoint` when its server is on this host and serves one (see net-local.ts) */
  localPath(endpoint: string, host: string): string | undefined;
}

/**
 * The buffer every plain (TCP or unix) client socket of this process reads
 * into, through Node's `onread` socket option: no Readable stream machinery
 * and no new Buffer per read (about 1.5 µs of CPU less a call at one call
 * in flight). One for all connections, and safe so: each read lands in it
 * and is handed to its connection's callback synchronously, before the
 * next read of any socket, and nothing outlives that call as a view of it
 * (the handshake is given copies, the frame decoder copies what it keeps
 * of an unfinished frame, and replies decoded in it get copies of their
 * binary values). TLS sockets read by `data` events.
 */
const READ_BYTES = 64 * 1024;
let readBuffer: Buffer | undefined;

/** The one buffer of this process's `onread` client sockets, made on first use. */
function sharedReadBuffer(): Buffer {
  readBuffer ??= Buffer.allocUnsafe(READ_BYTES);
  return readBuffer;
}

/** The one reused connection to one peer endpoint, multiplexing calls by id. */
export class ClientConnection {
  readonly endpoint: string;
  readonly #owner: ConnectionOwner;
  #socket: net.Socket;
  /** writes to the socket, within its write-buffer limit (set once the socket is chosen) */
  #write: (bytes: Buffer) => void = () => {};
  /** frames that wait for the handshake; undefined once it passed (or failed) */
  #held: Buffer[] | undefined = [];
  readonly #writer: FrameWriter;
  readonly #decoder: FrameDecoder;
  readonly #pending = new PendingCalls<RpcResponse>();
  /** the readers of this connection's open streams, by request id */
  readonly #streams = new Map<number, StreamReader>();
  readonly #services = new Set<string>();
  readonly #cancel = (id: number) => this.#send([CANCEL, id]);
  #dead: string | undefined;
  #retired = false;
  /** `performance.now()` of the last call sent or byte received */
  lastActive = performance.now();
  /** whether the peer passed the handshake: until then nothing has reached its code */
  #connected = false;
  /**
   * The calls whose requests are queued but not yet handed to the socket:
   * if the connection is lost now, they provably never reached the peer.
   */
  #unwritten: number[] = [];
  /** the handshake's reader while it reads from a plain socket (see {@link #onRead}) */
  #handshakeRead: ((bytes: Buffer) => void) | undefined;
  readonly #onFrame = (buf: Buffer, start: number, end: number) => this.#onReply(buf, start, end);

  constructor(endpoint: string, owner: ConnectionOwner) {
    this.endpoint = endpoint;
    this.#owner = owner;
    const { host, port, tls } = parseEndpoint(endpoint);
    this.#decoder = new FrameDecoder(owner.maxFrameBytes, owner.budget);
    this.#writer = new FrameWriter((bytes) => {
      if (this.#socket.destroyed) return;
      // Frames wait until the peer has proved it belongs to the cluster.
      if (this.#held) {
        this.#held.push(bytes);
        return;
      }
      // The writer flushes all it holds at once.
      if (this.#unwritten.length > 0) this.#unwritten = [];
      this.#write(bytes);
    });
    if (tls) {
      this.#socket = owner.connectTls(host, port);
      this.#open(false);
      return;
    }
    // Never returns false: that would pause the socket, and a client does
    // not pause its reading (see backpressuredWrite).
    const onread = {
      buffer: sharedReadBuffer(),
      callback: (nread: number) => {
        this.#onRead(nread);
        return true;
      },
    };
    const tcp = () => net.connect({ host, port, noDelay: true, onread });
    const local = owner.localPath(endpoint, host);
    if (local === undefined) {
      this.#socket = tcp();
      this.#open(true);
      return;
    }
    // The unix socket beside the endpoint. A file left by a server killed
    // there (SIGKILL leaves it) refuses the connection: the server now at
    // that port, one that serves no unix socket, is reached by TCP instead.
    const unix = net.connect({ path: local, onread });
    this.#socket = unix;
    const onError = (err: NodeJS.ErrnoException) => {
      unix.off('connect', onConnect);
      if (this.#dead) return;
      owner.log.debug('no server at the unix socket of an endpoint: connecting by TCP', {
        endpoint,
        error: err.code ?? err.message,
      });
      this.#socket = tcp();
      this.#open(true);
    };
    const onConnect = () => {
      unix.off('error', onError);
      this.#open(true);
    };
    unix.once('error', onError);
    unix.once('connect', onConnect);
  }

  /**
   * Runs the handshake on the connection's socket, then lets requests out
   * and replies in; `onread` says the socket reads through {@link #onRead}
   * (a plain one), else by `data` events (TLS).
   */
  #open(onread: boolean): void {
    const socket = this.#socket;
    const { endpoint } = this;
    const owner = this.#owner;
    const limit = owner.limits.writeBufferBytes;
    this.#write = backpressuredWrite(socket, {
      limit,
      pauseReading: false,
      over: (queued) => {
        const why = `${endpoint} does not read its requests (${queued} bytes unsent, over the ${limit}-byte limit)`;
        owner.log.warn('rpc server does not read: dropping the connection', {
          endpoint,
          queuedBytes: queued,
        });
        this.#dead ??= why;
      },
    });
    const onData = (chunk: Buffer) => {
      this.lastActive = performance.now();
      this.#decode(chunk, chunk.length, false);
    };
    // A plain socket's reads go to the handshake until it passes, then
    // (from the same read, the rest behind the server's proof first) to
    // the frame decoder: no byte is read by anyone else or lost between.
    const handshakeRead = (read: (bytes: Buffer) => void) => {
      this.#handshakeRead = read;
      return () => {
        if (this.#handshakeRead === read) this.#handshakeRead = undefined;
      };
    };
    owner.auth.connect(
      socket,
      endpoint,
      {
        ready: (rest) => {
          // The peer proved it belongs: from now on what is written may reach its code.
          this.#connected = true;
          owner.reached(this);
          for (const bytes of this.#held ?? []) this.#write(bytes);
          this.#held = undefined;
          this.#unwritten = [];
          if (!onread) socket.on('data', onData);
          if (rest.length > 0) onData(rest);
        },
        failed: (err) => {
          this.#held = undefined;
          this.#dead ??= err.message;
          this.destroy(err.message);
        },
      },
      onread ? handshakeRead : undefined,
    );
    socket.on('error', (err) => {
      this.#dead ??= `connection to ${endpoint} was lost (${err.message})`;
    });
    socket.on('close', () => this.destroy(`connection to ${endpoint} was lost`));
  }

  /**
   * What a plain socket read: `nread` bytes at the start of the shared read
   * buffer, overwritten by the next read of any connection.
   */
  #onRead(nread: number): void {
    this.lastActive = performance.now();
    const handshake = this.#handshakeRead;
    if (handshake) {
      // The handshake keeps a message split across reads, and hands on the rest behind it.
      handshake(Buffer.from(sharedReadBuffer().subarray(0, nread)));
      return;
    }
    // Before the handshake passed nothing is decoded (after it failed the socket is destroyed).
    if (this.#connected) this.#decode(sharedReadBuffer(), nread, true);
  }

  /** Splits `buf[0, length)` into replies; a bad frame closes the connection. */
  #decode(buf: Buffer, length: number, reused: boolean): void {
    try {
      if (reused) this.#decoder.pushReused(buf, length, this.#onFrame);
      else this.#decoder.pushRange(buf, this.#onFrame);
    } catch (err) {
      this.#owner.badFrame(this.endpoint, err);
      this.destroy(`bad frame from ${this.endpoint}`);
    }
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
    this.lastActive = performance.now();
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
    this.#unwritten.push(id);
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

  /**
   * Closes a connection nothing waits on (idle): its peer is not suspect,
   * so it stays in the picks, and the next call opens a new connection.
   */
  retire(): void {
    this.#retired = true;
    this.destroy('closed as idle');
  }

  /** Whether calls or streams wait on this connection. */
  get busy(): boolean {
    return this.#pending.size > 0 || this.#streams.size > 0;
  }

  destroy(reason: string): void {
    const why = this.#dead ?? reason;
    this.#dead = why;
    this.#writer.clear();
    this.#socket.destroy();
    this.#decoder.release();
    this.#owner.lost(this, this.#retired ? [] : this.#services);
    // What never reached the peer fails as such, so that the caller may send
    // it elsewhere; the rest may have run.
    if (!this.#connected) {
      this.#unwritten = [];
      this.#pending.failAll(new NotDeliveredError(why));
      return;
    }
    if (this.#unwritten.length > 0) {
      const undelivered = new NotDeliveredError(why);
      for (const id of this.#unwritten) this.#pending.reject(id, undelivered);
      this.#unwritten = [];
    }
    this.#pending.failAll(new ConnectionLostError(why));
  }

  #onReply(buf: Buffer, start: number, end: number): void {
    // Values decoded from the shared read buffer must not be views of it.
    const msg = this.#owner.decode(buf, start, end, buf === readBuffer);
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
