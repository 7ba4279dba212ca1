import type { Dealer } from 'zeromq';
import type { CancelToken } from '../cancel.js';
import {
  CancelledError,
  ConfigError,
  ConnectionLostError,
  DecodeError,
  fromWireError,
} from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { ClusterAuth } from '../security/auth.js';
import { PendingCalls } from '../rpc/pending.js';
import { StreamReader } from '../rpc/stream.js';
import type { Serializer } from '../serializers/serializer.js';
import { isNoticeNumber, isObject } from './wire-check.js';
import {
  HEARTBEAT,
  NotDeliveredError,
  REQUEST_HIGH_WATER,
  SendQueue,
  ZMQ_MAX_MESSAGE,
  ZMQ_RECEIVE_LIMIT,
  peekId,
  isId,
  type BadFrames,
  type ZmqModule,
} from './link.js';

interface Peer {
  endpoint: string;
  dealer: Dealer;
  queue: SendQueue;
  connected: boolean;
  /** the CURVE handshake is done: ZeroMQ takes requests (ZMQ_IMMEDIATE) */
  up: boolean;
  /** the requests sent to this peer that wait for its reply */
  pending: PendingCalls<unknown>;
  /** the readers of the streams open with this peer, by request id */
  streams: Map<number, StreamReader>;
  /** tells the peer to stop request `id` */
  cancel: (id: number) => void;
  /** the peer said it stops: no new request goes to it */
  leaving: boolean;
  closed: boolean;
}

export interface RequesterOptions {
  serializer: Serializer;
  log: Logger;
  bad: BadFrames;
  /** the cluster whose listeners alone it talks to (CURVE with the cluster's keys) */
  auth: ClusterAuth;
  /** what it sends, in log lines (`rpc`, `events`) */
  label: string;
  /** bytes of requests waiting for one peer that does not read, past which it is given up (`limits.write_buffer_bytes`) */
  writeBufferBytes?: number;
  /** called once when the instance at `endpoint` says it stops (to leave it out of picks) */
  onLeaving?: (endpoint: string) => void;
}

/**
 * The calling side: one DEALER per peer endpoint, reused, many requests in
 * flight on each. A peer that disconnects fails its pending requests at
 * once with ConnectionLostError (a dead process's kernel closes its
 * sockets, and ZeroMQ reports it within milliseconds), except those
 * ZeroMQ never took: it takes requests only while the connection is up,
 * so those sent once it had seen the peer's end (before this thread heard
 * of it) fail with NotDeliveredError, as do all of a peer that cannot be
 * reached. ZeroMQ takes at most REQUEST_HIGH_WATER messages for a peer
 * (none before the connection is up: then they wait in the SendQueue);
 * the rest wait in order in its SendQueue, and a peer for which more than
 * `writeBufferBytes` wait there does not read its requests: it is given
 * up as one that went away (the requests ZeroMQ never took fail with
 * NotDeliveredError, so that they may go to another instance).
 *
 * A peer that stops says so (a notice, see link.ts): from then on requests
 * for it fail at once with NotDeliveredError (they go to another
 * instance), and each notice is acknowledged as it is read, which is after
 * every reply that came before it on the connection, so that the peer
 * closes only once those replies are in this thread's hands.
 */
export class ZmqRequester {
  readonly #zmq: ZmqModule;
  readonly #serializer: Serializer;
  readonly #log: Logger;
  readonly #bad: BadFrames;
  readonly #auth: ClusterAuth;
  readonly #label: string;
  readonly #limit: number;
  readonly #onLeaving: ((endpoint: string) => void) | undefined;
  readonly #peers = new Map<string, Peer>();
  #nextId = 0;
  #closed = false;

  constructor(zmq: ZmqModule, options: RequesterOptions) {
    this.#zmq = zmq;
    this.#serializer = options.serializer;
    this.#log = options.log;
    this.#bad = options.bad;
    this.#auth = options.auth;
    this.#label = options.label;
    this.#limit = options.writeBufferBytes ?? DEFAULT_LIMITS.writeBufferBytes;
    this.#onLeaving = options.onLeaving;
  }

  /**
   * Sends `body` to `endpoint` and resolves with the reply body. `what`
   * names the request in error messages.
   */
  request(
    endpoint: string,
    body: unknown,
    timeoutMs: number,
    what: string,
    cancel?: CancelToken,
  ): Promise<unknown> {
    if (this.#closed) return Promise.reject(new ConnectionLostError('the transport is closed'));
    const id = this.#nextId++;
    let bytes: Buffer;
    let peer: Peer;
    try {
      bytes = this.#serializer.encode({ i: id, q: body });
      if (bytes.length > ZMQ_MAX_MESSAGE) {
        throw new ConfigError(
          `request of ${bytes.length} bytes is over the ${ZMQ_MAX_MESSAGE}-byte message limit`,
        );
      }
      peer = this.#peer(endpoint);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    if (peer.leaving) return Promise.reject(stopping(endpoint));
    return this.#send(peer, id, bytes, timeoutMs, what, cancel);
  }

  /**
   * Sends a stream request and returns its reader: items come as the
   * reader's credit allows, the reply ends the stream, and the reader's
   * `return()` tells the peer to stop.
   */
  stream(
    endpoint: string,
    body: unknown,
    timeoutMs: number,
    what: string,
    cancel?: CancelToken,
  ): StreamReader {
    if (this.#closed) throw new ConnectionLostError('the transport is closed');
    const id = this.#nextId++;
    const peer = this.#peer(endpoint);
    if (peer.leaving) throw stopping(endpoint);
    const bytes = this.#serializer.encode({ i: id, q: body });
    const reader = new StreamReader({
      credit: (n) => {
        if (peer.streams.get(id) === reader) this.#control(peer, { i: id, c: n });
      },
      stop: () => {
        if (peer.streams.get(id) !== reader) return;
        peer.streams.delete(id);
        peer.pending.reject(id, new CancelledError('the reader stopped'));
        peer.cancel(id);
      },
    });
    peer.streams.set(id, reader);
    this.#send(peer, id, bytes, timeoutMs, what, cancel).then(
      (reply) => {
        if (peer.streams.get(id) === reader) peer.streams.delete(id);
        reader.finish(reply);
      },
      // Cancelled (the peer was told), timed out (the peer stops at the same
      // deadline) or lost: nothing more to send.
      (err: unknown) => {
        if (peer.streams.get(id) === reader) peer.streams.delete(id);
        reader.fail(err);
      },
    );
    if (!cancel?.aborted) this.#control(peer, { i: id, c: reader.window });
    return reader;
  }

  #send(
    peer: Peer,
    id: number,
    bytes: Buffer,
    timeoutMs: number,
    what: string,
    cancel: CancelToken | undefined,
  ): Promise<unknown> {
    const reply = cancel
      ? peer.pending.wait(id, timeoutMs, what, undefined, undefined, cancel, peer.cancel)
      : peer.pending.wait(id, timeoutMs, what, undefined, undefined);
    // A call cancelled before it was made is not sent.
    if (cancel?.aborted) return reply;
    this.#enqueue(peer, bytes, id).catch((err: unknown) => {
      peer.pending.reject(
        id,
        new NotDeliveredError(`cannot send to ${peer.endpoint}: ${String(err)}`),
      );
    });
    return reply;
  }

  /** Sends a control message (credit, cancel) to a peer; one that is gone needs none. */
  #control(peer: Peer, message: Record<string, unknown>): void {
    if (peer.closed) return;
    this.#enqueue(peer, this.#serializer.encode(message)).catch(() => {
      // The peer went away: its requests fail through the disconnect.
    });
  }

  /**
   * Queues a message for the peer, in order; a peer for which more than the
   * limit waits (ZeroMQ took all it takes, and more comes) does not read.
   */
  #enqueue(peer: Peer, bytes: Buffer, id?: number): Promise<void> {
    const sent = peer.queue.send(bytes, id);
    // Until the connection is up ZeroMQ takes nothing (ZMQ_IMMEDIATE): the REQUEST_HIGH_WATER
    // messages it would hold wait here instead, and only those beyond them count (else a burst
    // made in the milliseconds before the handshake was given up as a peer that does not read).
    const waiting = peer.up ? peer.queue.waitingBytes : peer.queue.bytesBeyond(REQUEST_HIGH_WATER);
    if (waiting > this.#limit && !peer.closed) {
      const why = `${peer.endpoint} does not read its requests (${waiting} bytes unsent, over the ${this.#limit}-byte limit)`;
      this.#log.warn(`zmq ${this.#label} server does not read: dropping the connection`, {
        endpoint: peer.endpoint,
        queuedBytes: waiting,
        limit: this.#limit,
      });
      this.#lose(peer, new ConnectionLostError(why));
    }
    return sent;
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
    const curve = this.#auth.curve();
    const dealer = new this.#zmq.Dealer({
      // ZeroMQ takes a request only while the connection is up (handshake done). Without it,
      // a request sent once the peer had died, but before its `disconnect` reached this
      // thread, waited in ZeroMQ's queue for a reconnection and failed as one that may have
      // run. With it, ZeroMQ drops its queue for the peer as soon as its I/O thread sees the
      // connection end: later sends fail (EAGAIN), the requests wait in the SendQueue, and
      // the `disconnect` fails them as never delivered, so that they go to another instance.
      immediate: true,
      linger: 0,
      maxMessageSize: ZMQ_RECEIVE_LIMIT,
      // Past it a send fails at once (never waits in zeromq.js, which can lose the wake-up
      // for replies: see SendQueue), and requests wait in the peer's queue, counted in bytes.
      sendHighWaterMark: REQUEST_HIGH_WATER,
      sendTimeout: 0,
      reconnectInterval: 200,
      curveServerKey: curve.serverPublic,
      curvePublicKey: curve.clientPublic,
      curveSecretKey: curve.clientSecret,
      ...HEARTBEAT,
    });
    const peer: Peer = {
      endpoint,
      dealer,
      queue: new SendQueue(dealer),
      connected: false,
      up: false,
      pending: new PendingCalls(),
      streams: new Map(),
      cancel: (id) => this.#control(peer, { i: id, x: 1 }),
      leaving: false,
      closed: false,
    };
    this.#peers.set(endpoint, peer);
    dealer.events.on('connect', () => {
      peer.connected = true;
    });
    dealer.events.on('disconnect', () => {
      if (!peer.up) return refused();
      this.#lose(peer, new ConnectionLostError(`the instance at ${endpoint} went away mid-call`));
    });
    // A listener of another cluster (or one that lost our key) fails the CURVE handshake;
    // libzmq may report the disconnect before the handshake's failure.
    const refused = () =>
      this.#lose(
        peer,
        new NotDeliveredError(
          `cannot authenticate with ${endpoint}: the CURVE handshake did not complete: the peer does not know this cluster secret (another cluster, or another secret there), or it went away`,
        ),
      );
    dealer.events.on('handshake', () => {
      peer.up = true;
      // ZeroMQ takes requests from now on: those that waited for the connection go at once.
      peer.queue.wake();
    });
    dealer.events.on('handshake:error:protocol', refused);
    dealer.events.on('handshake:error:auth', refused);
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
      if (frames[0]!.length > ZMQ_MAX_MESSAGE) {
        throw new DecodeError(
          `message of ${frames[0]!.length} bytes is over the ${ZMQ_MAX_MESSAGE}-byte limit`,
        );
      }
      msg = this.#serializer.decode(frames[0]!);
    } catch (err) {
      const reason = (err as Error).message;
      this.#bad.add(source, reason);
      // Its call fails now, with why, rather than at its timeout.
      const id = peekId(frames[0]!);
      if (id !== undefined) {
        peer.pending.reject(id, new DecodeError(`the reply could not be read: ${reason}`));
      }
      return;
    }
    // The close handshake's notice has no request id: it is about the connection.
    if (isObject(msg) && !('i' in msg) && 'g' in msg) {
      return this.#stopping(peer, msg['g'], source);
    }
    if (!isObject(msg) || !isId(msg['i'])) return this.#bad.add(source, 'not a reply envelope');
    const id = msg['i'];
    // A reply to a request that timed out meanwhile is expected, not bad.
    if ('r' in msg) peer.pending.resolve(id, msg['r']);
    else if (isObject(msg['e'])) peer.pending.reject(id, fromWireError(msg['e']));
    else if ('y' in msg) this.#item(peer, id, msg['y'], source);
    else this.#bad.add(source, 'not a reply envelope');
  }

  /**
   * The peer stops (notice `n`): no new request goes to it, and the notice
   * is acknowledged now, as every message that came before it on this
   * connection has been handled (they come in order, and each is handled
   * as it is read).
   */
  #stopping(peer: Peer, n: unknown, source: string): void {
    if (!isNoticeNumber(n)) return this.#bad.add(source, 'a stop notice needs a number');
    if (!peer.leaving) {
      peer.leaving = true;
      this.#onLeaving?.(peer.endpoint);
    }
    this.#control(peer, { a: n });
  }

  /** One item of a stream; an item of a stream this side stopped reading is dropped. */
  #item(peer: Peer, id: number, item: unknown, source: string): void {
    const reader = peer.streams.get(id);
    if (!reader || reader.push(item)) return;
    this.#bad.add(source, 'more items than the reader granted');
    peer.streams.delete(id);
    peer.pending.reject(
      id,
      new ConnectionLostError(`${peer.endpoint} sent more items than it was granted`),
    );
    peer.cancel(id);
  }

  #lose(peer: Peer, err: ConnectionLostError): void {
    if (peer.closed) return;
    peer.closed = true;
    if (this.#peers.get(peer.endpoint) === peer) this.#peers.delete(peer.endpoint);
    // What ZeroMQ never took never left this process: safe to send elsewhere. The rest may have run.
    const undelivered = err instanceof NotDeliveredError ? err : new NotDeliveredError(err.message);
    for (const id of peer.queue.abandon(undelivered)) peer.pending.reject(id, undelivered);
    peer.pending.failAll(err);
    // Closing the socket ends its observer too (closing the observer first rejects its reader).
    peer.dealer.close();
  }
}

/** What a request for a peer that said it stops fails with: it never left, it may go elsewhere. */
function stopping(endpoint: string): NotDeliveredError {
  return new NotDeliveredError(`the instance at ${endpoint} is stopping`);
}
