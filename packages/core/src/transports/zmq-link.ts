import type { Dealer, Router } from 'zeromq';
import {
  BackendError,
  ConnectionLostError,
  DecodeError,
  MalformedRequestError,
  RpcTimeoutError,
  fromWireError,
  toWireError,
} from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Serializer } from '../serializers/serializer.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../serializers/serializer.js';

/*
 * Request/reply over ZeroMQ shared by the zmq RPC transport and the local
 * event transport. One frame each way, MessagePack:
 *   request  { i: <id>, q: <body> }            DEALER → ROUTER
 *   reply    { i: <id>, r: <body> }            ROUTER → DEALER
 *            { i: <id>, e: <WireError> }       (the request itself was refused)
 * The id multiplexes many requests over one DEALER per peer.
 */

type ZmqModule = typeof import('zeromq');
let zmqModule: Promise<ZmqModule> | undefined;

/** Loads zeromq once, on first use, so that processes that never use it pay nothing. */
export function loadZmq(): Promise<ZmqModule> {
  zmqModule ??= import('zeromq').catch((err: unknown) => {
    zmqModule = undefined;
    throw new BackendError(`the zeromq package cannot be loaded: ${(err as Error).message}`, {
      cause: err,
    });
  });
  return zmqModule;
}

/** ZeroMQ drops a peer that sends more than this in one message, before we decode it. */
const ZMQ_MAX_MESSAGE = DEFAULT_MAX_MESSAGE_BYTES + 1024;
/** ZMTP heartbeats: a peer that stops answering (SIGSTOP, cable) is dropped after the timeout. */
const HEARTBEAT = { heartbeatInterval: 2000, heartbeatTimeout: 6000, heartbeatTimeToLive: 6000 };

/**
 * zeromq.js allows one pending send per socket: sends wait here in order.
 */
class SendQueue {
  readonly #socket: { send(msg: Buffer | Buffer[]): Promise<void> };
  readonly #queue: Array<{ msg: Buffer | Buffer[]; done: (err?: Error) => void }> = [];
  #running = false;

  constructor(socket: { send(msg: Buffer | Buffer[]): Promise<void> }) {
    this.#socket = socket;
  }

  send(msg: Buffer | Buffer[]): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ msg, done: (err) => (err === undefined ? resolve() : reject(err)) });
      void this.#pump();
    });
  }

  get idle(): boolean {
    return !this.#running && this.#queue.length === 0;
  }

  async #pump(): Promise<void> {
    if (this.#running) return;
    this.#running = true;
    try {
      for (let item = this.#queue.shift(); item; item = this.#queue.shift()) {
        try {
          await this.#socket.send(item.msg);
          item.done();
        } catch (err) {
          item.done(err instanceof Error ? err : new Error(`send failed: ${String(err)}`));
        }
      }
    } finally {
      this.#running = false;
    }
  }
}

/** Counts bad frames and logs the first one of each source. */
export class BadFrames {
  count = 0;
  readonly #log: Logger;
  readonly #seen = new Set<string>();

  constructor(log: Logger) {
    this.#log = log;
  }

  add(source: string, reason: string): void {
    this.count++;
    if (this.#seen.has(source)) return;
    if (this.#seen.size < 1000) this.#seen.add(source);
    this.#log.warn('dropped a bad frame (further ones from this source are only counted)', {
      source,
      reason,
    });
  }
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** A request that never left this process: the peer could not be reached, so it is safe to retry elsewhere. */
export class NotDeliveredError extends ConnectionLostError {}

interface Pending {
  peer: Peer;
  resolve: (body: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

interface Peer {
  endpoint: string;
  dealer: Dealer;
  queue: SendQueue;
  connected: boolean;
  pending: Set<number>;
  closed: boolean;
}

export interface RequesterOptions {
  serializer: Serializer;
  log: Logger;
  bad: BadFrames;
}

/**
 * The calling side: one DEALER per peer endpoint, reused, many requests in
 * flight on each. A peer that disconnects fails its pending requests at
 * once with ConnectionLostError (a dead process's kernel closes its
 * sockets, and ZeroMQ reports it within milliseconds); a peer that cannot
 * be reached fails them with NotDeliveredError.
 */
export class ZmqRequester {
  readonly #zmq: ZmqModule;
  readonly #serializer: Serializer;
  readonly #log: Logger;
  readonly #bad: BadFrames;
  readonly #peers = new Map<string, Peer>();
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;

  constructor(zmq: ZmqModule, options: RequesterOptions) {
    this.#zmq = zmq;
    this.#serializer = options.serializer;
    this.#log = options.log;
    this.#bad = options.bad;
  }

  /**
   * Sends `body` to `endpoint` and resolves with the reply body. `what`
   * names the request in error messages.
   */
  request(endpoint: string, body: unknown, timeoutMs: number, what: string): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ConnectionLostError('the transport is closed'));
    const id = this.#nextId++;
    let bytes: Buffer;
    let peer: Peer;
    try {
      bytes = this.#serializer.encode({ i: id, q: body });
      peer = this.#peer(endpoint);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.#pending.delete(id)) return;
        peer.pending.delete(id);
        reject(new RpcTimeoutError(`${what} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, { peer, resolve, reject, timer });
      peer.pending.add(id);
      peer.queue.send(bytes).catch((err: unknown) => {
        this.#settle(id, new NotDeliveredError(`cannot send to ${endpoint}: ${String(err)}`));
      });
    });
  }

  /** Fails every pending request with ConnectionLostError and closes every socket. */
  close(): void {
    this.#closed = true;
    for (const peer of [...this.#peers.values()]) {
      this.#lose(peer, new ConnectionLostError('the transport is closed'));
    }
  }

  #peer(endpoint: string): Peer {
    const existing = this.#peers.get(endpoint);
    if (existing) return existing;
    const dealer = new this.#zmq.Dealer({
      linger: 0,
      maxMessageSize: ZMQ_MAX_MESSAGE,
      reconnectInterval: 200,
      ...HEARTBEAT,
    });
    const peer: Peer = {
      endpoint,
      dealer,
      queue: new SendQueue(dealer),
      connected: false,
      pending: new Set(),
      closed: false,
    };
    this.#peers.set(endpoint, peer);
    dealer.events.on('connect', () => {
      peer.connected = true;
    });
    dealer.events.on('disconnect', () => {
      this.#lose(peer, new ConnectionLostError(`the instance at ${endpoint} went away mid-call`));
    });
    dealer.events.on('connect:retry', () => {
      // Only a peer that never connected retries here: a disconnect closed the others.
      this.#lose(peer, new NotDeliveredError(`cannot connect to ${endpoint}`));
    });
    try {
      dealer.connect(endpoint);
    } catch (err) {
      this.#peers.delete(endpoint);
      dealer.close();
      throw new NotDeliveredError(`bad endpoint ${endpoint}: ${(err as Error).message}`);
    }
    void this.#receive(peer);
    return peer;
  }

  async #receive(peer: Peer): Promise<void> {
    try {
      for await (const frames of peer.dealer) {
        this.#onReply(peer, frames);
      }
    } catch (err) {
      if (!peer.closed) this.#log.debug('reply loop ended', { endpoint: peer.endpoint, err });
    }
  }

  #onReply(peer: Peer, frames: Buffer[]): void {
    const source = `reply from ${peer.endpoint}`;
    if (frames.length !== 1) return this.#bad.add(source, `${frames.length} frames, expected 1`);
    let msg: unknown;
    try {
      msg = this.#serializer.decode(frames[0]!);
    } catch (err) {
      return this.#bad.add(source, (err as Error).message);
    }
    if (!isObject(msg) || !isId(msg['i']) || (!('r' in msg) && !isObject(msg['e']))) {
      return this.#bad.add(source, 'not a reply envelope');
    }
    const pending = this.#pending.get(msg['i']);
    // A reply to a request that timed out meanwhile is expected, not bad.
    if (!pending || pending.peer !== peer) return;
    if ('r' in msg) this.#settle(msg['i'], undefined, msg['r']);
    else this.#settle(msg['i'], fromWireError(msg['e']));
  }

  #settle(id: number, err: unknown, body?: unknown): void {
    const pending = this.#pending.get(id);
    if (!pending) return;
    this.#pending.delete(id);
    pending.peer.pending.delete(id);
    clearTimeout(pending.timer);
    if (err === undefined) pending.resolve(body);
    else pending.reject(err);
  }

  #lose(peer: Peer, err: ConnectionLostError): void {
    if (peer.closed) return;
    peer.closed = true;
    if (this.#peers.get(peer.endpoint) === peer) this.#peers.delete(peer.endpoint);
    for (const id of [...peer.pending]) this.#settle(id, err);
    // Closing the socket ends its observer too (closing the observer first rejects its reader).
    peer.dealer.close();
  }
}

export interface ResponderOptions {
  serializer: Serializer;
  log: Logger;
  bad: BadFrames;
  /** what the socket serves, for log messages (`rpc`, `events`) */
  label: string;
}

/**
 * What a request handler returns to the responder. Throwing a DecodeError
 * or MalformedRequestError marks the request as a bad frame (counted and
 * logged) and tells the caller why.
 */
export type RequestHandler = (body: unknown, source: string) => Promise<unknown>;

/**
 * The serving side: a ROUTER bound on `tcp://<host>:*` that hands each
 * well-formed request to the handler and sends back its reply. Bad frames
 * are counted, logged once per source and dropped.
 */
export class ZmqResponder {
  readonly endpoint: string;
  readonly #router: Router;
  readonly #queue: SendQueue;
  readonly #options: ResponderOptions;
  readonly #inflight = new Set<Promise<void>>();
  #handler: RequestHandler;
  #closed = false;

  private constructor(
    router: Router,
    endpoint: string,
    handler: RequestHandler,
    options: ResponderOptions,
  ) {
    this.#router = router;
    this.endpoint = endpoint;
    this.#handler = handler;
    this.#options = options;
    this.#queue = new SendQueue(router);
    void this.#receive();
  }

  static async bind(
    zmq: ZmqModule,
    host: string,
    handler: RequestHandler,
    options: ResponderOptions,
  ): Promise<ZmqResponder> {
    const ipv6 = host.includes(':');
    const router = new zmq.Router({
      linger: 1000,
      maxMessageSize: ZMQ_MAX_MESSAGE,
      ipv6,
      ...HEARTBEAT,
    });
    try {
      await router.bind(`tcp://${ipv6 ? `[${host}]` : host}:*`);
    } catch (err) {
      router.close();
      throw new BackendError(
        `cannot bind the ${options.label} socket on ${host}: ${(err as Error).message}`,
        { cause: err },
      );
    }
    return new ZmqResponder(router, advertised(router.lastEndpoint ?? ''), handler, options);
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /** Stops reading, lets in-flight handlers reply (up to `drainMs`), then closes. */
  async close(drainMs = 1000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const drained = Promise.allSettled([...this.#inflight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    for (let i = 0; i < 50 && !this.#queue.idle; i++) await new Promise((r) => setTimeout(r, 10));
    this.#router.close();
  }

  async #receive(): Promise<void> {
    try {
      for await (const frames of this.#router) {
        if (this.#closed) continue;
        this.#onRequest(frames);
      }
    } catch (err) {
      if (!this.#closed) {
        this.#options.log.error(`the ${this.#options.label} socket stopped receiving`, {
          endpoint: this.endpoint,
          error: (err as Error).message,
        });
      }
    }
  }

  #onRequest(frames: Buffer[]): void {
    const { bad, serializer, label } = this.#options;
    const [routingId, ...rest] = frames;
    if (!routingId) return;
    const source = `${label} peer ${routingId.toString('hex')} on ${this.endpoint}`;
    if (rest.length !== 1) return bad.add(source, `${rest.length} frames, expected 1`);
    let msg: unknown;
    try {
      msg = serializer.decode(rest[0]!);
    } catch (err) {
      return bad.add(source, (err as Error).message);
    }
    if (!isObject(msg) || !isId(msg['i']) || !('q' in msg)) {
      return bad.add(source, 'not a request envelope');
    }
    const id = msg['i'];
    const run = this.#handler(msg['q'], source).then(
      (body) => ({ i: id, r: body }),
      (err: unknown) => {
        if (err instanceof DecodeError || err instanceof MalformedRequestError) {
          bad.add(source, err.message);
        }
        return { i: id, e: toWireError(err) };
      },
    );
    const task = run
      .then((reply) => {
        let bytes: Buffer;
        try {
          bytes = serializer.encode(reply);
        } catch (err) {
          bytes = serializer.encode({ i: id, e: toWireError(err) });
        }
        return this.#queue.send([routingId, bytes]);
      })
      .catch((err: unknown) => {
        this.#options.log.debug('could not send a reply', { source, err });
      });
    this.#inflight.add(task);
    void task.finally(() => this.#inflight.delete(task));
  }
}

/** The endpoint peers should connect to: a wildcard bind is advertised as the loopback address. */
function advertised(lastEndpoint: string): string {
  return lastEndpoint.replace(/^tcp:\/\/(0\.0\.0\.0|\[::\]|\*):/, 'tcp://127.0.0.1:');
}
