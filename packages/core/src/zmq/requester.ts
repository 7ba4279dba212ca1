import type { Dealer } from 'zeromq';
import { ConnectionLostError, fromWireError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { PendingCalls } from '../rpc/pending.js';
import type { Serializer } from '../serializers/serializer.js';
import { isObject } from './wire-check.js';
import {
  HEARTBEAT,
  NotDeliveredError,
  SendQueue,
  ZMQ_MAX_MESSAGE,
  isId,
  type BadFrames,
  type ZmqModule,
} from './link.js';

interface Peer {
  endpoint: string;
  dealer: Dealer;
  queue: SendQueue;
  connected: boolean;
  /** the requests sent to this peer that wait for its reply */
  pending: PendingCalls<number, unknown>;
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
    const reply = peer.pending.wait(id, timeoutMs, what, undefined, undefined);
    peer.queue.send(bytes).catch((err: unknown) => {
      peer.pending.reject(id, new NotDeliveredError(`cannot send to ${endpoint}: ${String(err)}`));
    });
    return reply;
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
      pending: new PendingCalls(),
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
    // A reply to a request that timed out meanwhile is expected, not bad.
    if ('r' in msg) peer.pending.resolve(msg['i'], msg['r']);
    else peer.pending.reject(msg['i'], fromWireError(msg['e']));
  }

  #lose(peer: Peer, err: ConnectionLostError): void {
    if (peer.closed) return;
    peer.closed = true;
    if (this.#peers.get(peer.endpoint) === peer) this.#peers.delete(peer.endpoint);
    peer.pending.failAll(err);
    // Closing the socket ends its observer too (closing the observer first rejects its reader).
    peer.dealer.close();
  }
}
