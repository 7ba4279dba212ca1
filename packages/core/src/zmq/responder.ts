import type { Router } from 'zeromq';
import { withHost } from '../advertise.js';
import { CancelToken } from '../cancel.js';
import {
  BackendError,
  CancelledError,
  ConfigError,
  ContainerStoppedError,
  DecodeError,
  MalformedRequestError,
  toWireError,
} from '../errors.js';
import { addressProblem } from '../listen.js';
import type { Logger } from '../log/logger.js';
import type { ClusterAuth } from '../security/auth.js';
import { MAX_CREDIT, StreamPump } from '../rpc/stream.js';
import type { ItemSource } from '../rpc/transport.js';
import type { Serializer } from '../serializers/serializer.js';
import { isNoticeNumber, isObject } from './wire-check.js';
import { acquireZap } from './zap.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { IdTable } from '../rpc/id-table.js';
import { REPLY_HIGH_WATER, ReplyQueue } from './reply-queue.js';
import {
  HEARTBEAT,
  ZMQ_MAX_MESSAGE,
  ZMQ_RECEIVE_LIMIT,
  isId,
  peekId,
  type BadFrames,
  type ZmqModule,
} from './link.js';

/**
 * How long a stopping server waits, once its running calls have replied (or
 * were given up), for its callers to acknowledge its last notices (the
 * close handshake, see link.ts). A caller's DEALER (ZMQ_IMMEDIATE) drops
 * what it has received but not yet handed to its thread when the
 * connection ends: a reply followed by the close was lost, and its call
 * failed as lost mid-call after it had run. The bound is for callers that
 * never answer (an older release, a hostile or a dead one): none keeps a
 * server up past it.
 */
export const CLOSE_HANDSHAKE_MS = 2000;

export interface ResponderOptions {
  serializer: Serializer;
  log: Logger;
  bad: BadFrames;
  /** what the socket serves, for log messages (`rpc`, `events`) */
  label: string;
  /** host published for this socket (advertise_host); default: the bound one, loopback for a wildcard */
  advertise?: string;
  /** the cluster whose callers alone get in (CURVE with its keys, checked by a ZAP handler) */
  auth: ClusterAuth;
  /** bytes of replies waiting for one peer that does not read, past which it is dropped (`limits.write_buffer_bytes`) */
  writeBufferBytes?: number;
}

/**
 * What a request handler returns to the responder: the reply's body, or a
 * {@link StreamReply} to stream items before it. Throwing a DecodeError or
 * MalformedRequestError marks the request as a bad frame (counted and
 * logged) and tells the caller why. `cancel` is aborted when the caller
 * cancels the request or goes away.
 */
export type RequestHandler = (
  body: unknown,
  source: string,
  cancel: CancelToken,
) => Promise<unknown>;

/**
 * A handler's answer that streams `items` (as the caller's credit allows),
 * then replies with the stream's end, an RPC response.
 */
export class StreamReply {
  constructor(
    readonly items: ItemSource,
    /** what is streamed, for errors (`Service.method`) */
    readonly what: string,
    /** milliseconds until the call's deadline */
    readonly timeout: number | undefined,
  ) {}
}

/** ZMQ_ROUTER_NOTIFY (a draft option zeromq.js has no name for) and its ZMQ_NOTIFY_DISCONNECT. */
const ROUTER_NOTIFY = 97;
const NOTIFY_DISCONNECT = 2;

interface Running {
  cancel: CancelToken;
  pump: StreamPump | undefined;
}

/** A caller told that this server stops: the notices sent it, and the last it acknowledged. */
interface Told {
  sent: number;
  acked: number;
}

/**
 * The serving side: a ROUTER bound on `tcp://<host>:*` that hands each
 * well-formed request to the handler and sends back its reply. Bad frames
 * are counted, logged once per source and dropped.
 */
export class ZmqResponder {
  readonly endpoint: string;
  readonly #router: Router;
  readonly #queue: ReplyQueue;
  readonly #options: ResponderOptions;
  readonly #inflight = new Set<Promise<void>>();
  /** requests still running, by the caller's routing id (hex), then request id */
  readonly #running = new Map<string, IdTable<Running>>();
  /** the callers that have sent something, by routing id (hex), until they go away */
  readonly #peers = new Map<string, Buffer>();
  /** while stopping: the callers told so, by routing id (hex) */
  readonly #told = new Map<string, Told>();
  /** while stopping: the callers sent something since their last notice, to be told (again) */
  readonly #owed = new Map<string, Buffer>();
  #flushing: NodeJS.Immediate | undefined;
  /** while the close waits for acknowledgements: ends the wait */
  #settle: (() => void) | undefined;
  #handler: RequestHandler;
  #closed = false;
  #releaseZap: () => void = () => {};

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
    this.#queue = new ReplyQueue(router, {
      limitBytes: options.writeBufferBytes ?? DEFAULT_LIMITS.writeBufferBytes,
      log: options.log,
      label: `zmq ${options.label}`,
      // Dropped for not reading: what runs for it is cancelled, as when it goes away, and
      // nothing more reaches it (nor a notice: it is not waited for).
      onDrop: (peer) => {
        this.#gone(peer);
        this.#forget(peer);
      },
    });
    void this.#receive();
  }

  static async bind(
    zmq: ZmqModule,
    host: string,
    handler: RequestHandler,
    options: ResponderOptions,
  ): Promise<ZmqResponder> {
    const ipv6 = host.includes(':');
    const curve = options.auth.curve();
    // The ZAP handler runs before the socket binds: no peer is ever let in unchecked.
    const releaseZap = await acquireZap(zmq, options.auth);
    const router = new zmq.Router({
      linger: 1000,
      maxMessageSize: ZMQ_RECEIVE_LIMIT,
      // A full queue of a peer fails the send at once (no drop, no wait): see ReplyQueue.
      sendHighWaterMark: REPLY_HIGH_WATER,
      // Requests not yet read wait in the kernel's buffers and the caller's, not in ours.
      receiveHighWaterMark: REPLY_HIGH_WATER,
      mandatory: true,
      sendTimeout: 0,
      ipv6,
      curveServer: true,
      curveSecretKey: curve.serverSecret,
      zapDomain: 'svc',
      ...HEARTBEAT,
    });
    // A peer without the cluster's keys fails the CURVE handshake (or ZAP): nothing of it is read.
    const refuse = (reason: string) => (event: { address: string }) =>
      options.auth.refuse(`zmq ${options.label}`, event.address, reason);
    router.events.on('handshake:error:auth', refuse('does not hold the cluster key (CURVE)'));
    router.events.on(
      'handshake:error:protocol',
      refuse('failed the CURVE handshake (no or wrong cluster keys)'),
    );
    router.events.on('handshake:error:other', refuse('failed the CURVE handshake'));
    // An empty message from a peer that went away: its requests are cancelled.
    (router as unknown as { setInt32Option(o: number, v: number): void }).setInt32Option(
      ROUTER_NOTIFY,
      NOTIFY_DISCONNECT,
    );
    try {
      await router.bind(`tcp://${ipv6 ? `[${host}]` : host}:*`);
    } catch (err) {
      router.close();
      releaseZap();
      const where = `cannot bind the ${options.label} socket on ${host}`;
      // An address this host does not have (a bind host from the config) is the config's fault.
      const problem = addressProblem(err);
      if (problem) throw new ConfigError(`${where}: ${problem}`, { cause: err });
      throw new BackendError(`${where}: ${(err as Error).message}`, { cause: err });
    }
    const bound = router.lastEndpoint ?? '';
    const endpoint =
      options.advertise === undefined ? advertised(bound) : withHost(bound, options.advertise);
    const responder = new ZmqResponder(router, endpoint, handler, options);
    responder.#releaseZap = releaseZap;
    return responder;
  }

  setHandler(handler: RequestHandler): void {
    this.#handler = handler;
  }

  /**
   * Stops: tells every caller so (they send new calls elsewhere), refuses
   * new requests (retryable), lets in-flight handlers reply (up to
   * `drainMs`), then closes once every caller told has acknowledged the
   * notice that followed the last message sent to it, or
   * {@link CLOSE_HANDSHAKE_MS} after the drain. With no caller connected
   * it closes at once.
   */
  async close(drainMs = 1000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const [peer, routingId] of this.#peers) this.#owe(peer, routingId);
    const drained = Promise.allSettled([...this.#inflight]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([drained, new Promise((r) => (timer = setTimeout(r, drainMs)))]);
    clearTimeout(timer);
    // What still runs (streams, long calls) loses its callers with the socket: it is told so.
    for (const peer of [...this.#running.keys()]) this.#gone(peer);
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(bound);
        this.#settle = undefined;
        resolve();
      };
      const bound = setTimeout(done, CLOSE_HANDSHAKE_MS);
      this.#settle = done;
      this.#check();
    });
    clearImmediate(this.#flushing);
    this.#router.close();
    this.#queue.close();
    this.#releaseZap();
  }

  /**
   * Sends `bytes` to a caller; while stopping, a notice follows (soon, after
   * what else goes to it meanwhile), so that the close waits until it has
   * read them.
   */
  #send(routingId: Buffer, bytes: Buffer): void {
    this.#queue.send(routingId, bytes);
    if (this.#closed) this.#owe(routingId.toString('hex'), routingId);
  }

  #owe(peer: string, routingId: Buffer): void {
    // A handler that replies after the close, or to a peer dropped for not reading: nothing
    // reaches it any more, and it is not waited for.
    if (this.#router.closed || this.#queue.dropped(peer)) return;
    this.#owed.set(peer, routingId);
    this.#flushing ??= setImmediate(() => {
      this.#flushing = undefined;
      this.#tell();
    });
  }

  /** Sends a notice to every caller owed one: each is numbered, and acknowledged by number. */
  #tell(): void {
    const { serializer } = this.#options;
    for (const [peer, routingId] of this.#owed) {
      let told = this.#told.get(peer);
      if (!told) this.#told.set(peer, (told = { sent: 0, acked: 0 }));
      told.sent++;
      this.#queue.send(routingId, serializer.encode({ g: told.sent }));
    }
    this.#owed.clear();
    this.#check();
  }

  /** Ends the close's wait when every caller told has acknowledged its last notice. */
  #check(): void {
    if (!this.#settle || this.#owed.size > 0) return;
    for (const told of this.#told.values()) if (told.acked < told.sent) return;
    this.#settle();
  }

  /** A caller went away or was dropped: nothing more reaches it, and it is not waited for. */
  #forget(peer: string): void {
    this.#peers.delete(peer);
    this.#told.delete(peer);
    this.#owed.delete(peer);
    this.#check();
  }

  async #receive(): Promise<void> {
    try {
      for await (const frames of this.#router) this.#onRequest(frames);
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
    const peer = routingId.toString('hex');
    const source = `${label} peer ${peer} on ${this.endpoint}`;
    if (rest.length === 1 && rest[0]!.length === 0) {
      this.#queue.gone(peer);
      this.#gone(peer);
      return this.#forget(peer);
    }
    // Dropped for not reading its replies: nothing more of it is taken until it goes away.
    if (this.#queue.dropped(peer)) return;
    // Bounded by the peers connected: each is forgotten when ZeroMQ reports it gone.
    if (!this.#peers.has(peer)) this.#peers.set(peer, routingId);
    if (rest.length !== 1) return bad.add(source, `${rest.length} frames, expected 1`);
    let msg: unknown;
    try {
      if (rest[0]!.length > ZMQ_MAX_MESSAGE) {
        throw new DecodeError(
          `message of ${rest[0]!.length} bytes is over the ${ZMQ_MAX_MESSAGE}-byte limit`,
        );
      }
      msg = serializer.decode(rest[0]!);
    } catch (err) {
      const reason = (err as Error).message;
      bad.add(source, reason);
      // Answered when its id can be read, so that the caller fails now rather than at its timeout.
      const id = peekId(rest[0]!);
      if (id !== undefined) {
        const error = toWireError(new DecodeError(`the request could not be read: ${reason}`));
        this.#send(routingId, serializer.encode({ i: id, e: error }));
      }
      return;
    }
    // The close handshake's acknowledgement has no request id: it is about the connection.
    if (isObject(msg) && !('i' in msg) && 'a' in msg) {
      return this.#acknowledged(peer, msg['a'], source);
    }
    if (!isObject(msg) || !isId(msg['i'])) return bad.add(source, 'not a request envelope');
    const id = msg['i'];
    if ('x' in msg) {
      this.#running
        .get(peer)
        ?.get(id)
        ?.cancel.abort(new CancelledError('the caller cancelled the call'));
      return;
    }
    if ('c' in msg) {
      const n = msg['c'];
      if (!Number.isSafeInteger(n) || (n as number) < 1 || (n as number) > MAX_CREDIT) {
        return bad.add(source, 'a credit needs a count of items');
      }
      this.#running
        .get(peer)
        ?.get(id)
        ?.pump?.credit(n as number);
      return;
    }
    if (!('q' in msg)) return bad.add(source, 'not a request envelope');
    const cancel = new CancelToken();
    const running: Running = { cancel, pump: undefined };
    // A peer's list stays until it goes away: made and dropped with every call, it
    // was a Map per request for a caller with one call in flight.
    let calls = this.#running.get(peer);
    if (!calls) this.#running.set(peer, (calls = new IdTable<Running>()));
    calls.set(id, running);
    const forget = () => {
      if (calls.get(id) === running) calls.delete(id);
    };
    // While stopping, refuse rather than ignore: the caller retries on another instance.
    const handled = this.#closed
      ? Promise.reject(new ContainerStoppedError('this instance is stopping'))
      : this.#handler(msg['q'], source, cancel);
    const run = handled.then(
      (body) => {
        if (!(body instanceof StreamReply)) {
          forget();
          return { i: id, r: body };
        }
        return this.#stream(routingId, id, body, running, forget);
      },
      (err: unknown) => {
        forget();
        if (err instanceof DecodeError || err instanceof MalformedRequestError) {
          bad.add(source, err.message);
        }
        return { i: id, e: toWireError(err) };
      },
    );
    const task = run
      .then((reply) => {
        // A stream that the caller stopped ends without a reply.
        if (reply === undefined) return;
        let bytes: Buffer;
        try {
          bytes = serializer.encode(reply);
        } catch (err) {
          bytes = serializer.encode({ i: id, e: toWireError(err) });
        }
        this.#send(routingId, bytes);
      })
      .catch((err: unknown) => {
        this.#options.log.debug('could not send a reply', { source, err });
      });
    this.#inflight.add(task);
    void task.finally(() => this.#inflight.delete(task));
  }

  /**
   * Streams a handler's items to the caller as its credit allows; resolves
   * with the reply that ends the stream, or undefined when the caller
   * stopped it (it wants nothing more).
   */
  #stream(
    routingId: Buffer,
    id: number,
    stream: StreamReply,
    running: Running,
    forget: () => void,
  ): Promise<{ i: number; r: unknown } | undefined> {
    const { serializer } = this.#options;
    return new Promise((resolve) => {
      running.pump = new StreamPump(
        stream.items,
        {
          item: (value) => {
            const bytes = serializer.encode({ i: id, y: value });
            if (bytes.length > ZMQ_MAX_MESSAGE) {
              throw new ConfigError(`an item of ${bytes.length} bytes is over the message limit`);
            }
            // A caller that went away is told by the disconnect, which stops the stream.
            this.#send(routingId, bytes);
          },
          end: (response) => {
            forget();
            resolve(response === undefined ? undefined : { i: id, r: response });
          },
        },
        {
          what: stream.what,
          ...(stream.timeout === undefined ? {} : { timeout: stream.timeout }),
          cancel: running.cancel,
        },
      );
    });
  }

  /**
   * A caller acknowledged notice `n`: it has read all that came before. One
   * of no notice sent it (or a number never sent) is a bad frame; one older
   * than the last, or repeated, changes nothing.
   */
  #acknowledged(peer: string, n: unknown, source: string): void {
    const told = this.#told.get(peer);
    if (!isNoticeNumber(n) || !told || n > told.sent) {
      return this.#options.bad.add(source, 'an acknowledgement of no notice sent to it');
    }
    if (n > told.acked) told.acked = n;
    this.#check();
  }

  /** A caller went away: what runs for it is cancelled. */
  #gone(peer: string): void {
    const calls = this.#running.get(peer);
    if (!calls) return;
    this.#running.delete(peer);
    for (const call of calls.values())
      call.cancel.abort(new CancelledError('the caller went away'));
  }
}

/** The endpoint peers should connect to: a wildcard bind is advertised as the loopback address. */
function advertised(lastEndpoint: string): string {
  return lastEndpoint.replace(/^tcp:\/\/(0\.0\.0\.0|\[::\]|\*):/, 'tcp://127.0.0.1:');
}
