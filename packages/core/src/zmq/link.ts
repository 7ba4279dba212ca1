import { BadFrameLog } from '../bad-frames.js';
import { BackendError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../serializers/serializer.js';
import { fullQueueBackoff } from './reply-queue.js';

/*
 * Request/reply over ZeroMQ shared by the zmq RPC transport and the local
 * event transport. One frame each way, MessagePack:
 *   request  { i: <id>, q: <body> }            DEALER → ROUTER
 *   reply    { i: <id>, r: <body> }            ROUTER → DEALER
 *            { i: <id>, e: <WireError> }       (the request itself was refused)
 * and, for RPC, cancellation and streams:
 *   cancel   { i: <id>, x: 1 }                 DEALER → ROUTER: stop the request's worker
 *   credit   { i: <id>, c: <n> }               DEALER → ROUTER: the reader takes n more items
 *   item     { i: <id>, y: <item> }            ROUTER → DEALER: one item of a stream
 * A stream ends with its reply. The id multiplexes many requests over one
 * DEALER per peer. The calling side is requester.ts, the serving side
 * responder.ts; the ROUTER learns of a DEALER that went away from the empty
 * message ZMQ_ROUTER_NOTIFY delivers.
 *
 * A server that stops closes each connection with a handshake (no id: it
 * is about the connection, not a request):
 *   notice   { g: <n> }                        ROUTER → DEALER: this server stops; n counts
 *                                              the notices sent on the connection, from 1
 *   ack      { a: <n> }                        DEALER → ROUTER: the caller has read every
 *                                              message that came before notice n
 * A caller's DEALER (ZMQ_IMMEDIATE) drops what it has received but not yet
 * handed to its thread when the connection ends, so the server closes only
 * once every caller it told has acknowledged its last notice (one follows
 * whatever it sends while stopping), or at a bound. A peer that does not
 * know these messages counts them as bad frames.
 */

/** The zeromq module's namespace. */
export type ZmqModule = typeof import('zeromq');
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

/** The largest message either side sends or decodes. */
export const ZMQ_MAX_MESSAGE = DEFAULT_MAX_MESSAGE_BYTES + 1024;
/**
 * ZeroMQ drops a peer that sends more than this in one message, before we
 * see it. It is above {@link ZMQ_MAX_MESSAGE} so that a message somewhat
 * over the limit reaches the decoder and is answered with SVC_ERR_DECODE
 * (its caller hears why at once) instead of cutting the connection with
 * the caller left to time out.
 */
export const ZMQ_RECEIVE_LIMIT = 2 * ZMQ_MAX_MESSAGE;
/**
 * Messages ZeroMQ queues for the instance a caller's DEALER sends to; past
 * it the DEALER's sends fail at once and requests wait, in order, in the peer's
 * {@link SendQueue}, counted in bytes. An instance that never reads its
 * requests pins at most this many messages here (at ZeroMQ's default of
 * 1000 and 1 MiB requests, 1 GB) and `limits.write_buffer_bytes` there.
 * (A responder's ROUTER queues as few per peer and keeps the rest in a
 * backlog counted in bytes: see zmq/reply-queue.ts.)
 */
export const REQUEST_HIGH_WATER = 64;

/**
 * The request id of an envelope `{ i: <id>, ... }` that could not be
 * decoded (too big, too deep, cut short), read from its first bytes: the
 * map header, the key `i` and an unsigned integer, as our encoder writes
 * them. Undefined when they are not there.
 */
export function peekId(bytes: Uint8Array): number | undefined {
  let at = 0;
  const head = bytes[at++];
  if (head === undefined) return undefined;
  if (head >= 0x80 && head <= 0x8f) {
    // fixmap
  } else if (head === 0xde) at += 2;
  else if (head === 0xdf) at += 4;
  else return undefined;
  if (bytes[at] !== 0xa1 || bytes[at + 1] !== 0x69) return undefined;
  at += 2;
  const kind = bytes[at++];
  if (kind === undefined) return undefined;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  try {
    if (kind <= 0x7f) return kind;
    if (kind === 0xcc) return view.getUint8(at);
    if (kind === 0xcd) return view.getUint16(at);
    if (kind === 0xce) return view.getUint32(at);
    if (kind === 0xcf) {
      const n = Number(view.getBigUint64(at));
      return Number.isSafeInteger(n) ? n : undefined;
    }
  } catch {
    // cut short
  }
  return undefined;
}
/** ZMTP heartbeats: a peer that stops answering (SIGSTOP, cable) is dropped after the timeout. */
export const HEARTBEAT = {
  heartbeatInterval: 2000,
  heartbeatTimeout: 6000,
  heartbeatTimeToLive: 6000,
};

interface Outgoing {
  msg: Buffer;
  tag: number | undefined;
  done: (err?: Error) => void;
}

/**
 * zeromq.js allows one pending send per socket: messages wait here, in
 * order, until ZeroMQ takes them. A message may carry a tag (its request's
 * id), so that when the peer is given up the owner knows which requests
 * ZeroMQ never took: they provably never reached the peer.
 *
 * The socket must have a send timeout of 0: a send that finds ZeroMQ's
 * queue full fails at once (EAGAIN), and the message is tried again after
 * a pause that grows while the queue stays full (no spin). A send that
 * waits in zeromq.js instead (a blocking DEALER) can lose the socket's
 * wake-up for replies: zeromq.js checks for replies, then, in the same
 * callback, checks whether it may send, and that check takes (without
 * waking the reader) a reply's signal that came in between; when that
 * send was the last one, every reply then waits in ZeroMQ for good and
 * every call on the connection times out. A send that does not wait is
 * followed by zeromq.js's check for replies every time.
 */
export class SendQueue {
  readonly #socket: { send(msg: Buffer): Promise<void> };
  readonly #queue: Outgoing[] = [];
  /** the message being handed to ZeroMQ, or waiting to be tried again while its queue is full */
  #head: Outgoing | undefined;
  #busy = false;
  #waitingBytes = 0;
  #abandoned: Error | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** the pauses before a full DEALER is tried again (as ReplyQueue's) */
  readonly #retry = fullQueueBackoff();

  /** `socket` has a send timeout of 0 (see above). */
  constructor(socket: { send(msg: Buffer): Promise<void> }) {
    this.#socket = socket;
  }

  send(msg: Buffer, tag?: number): Promise<void> {
    if (this.#abandoned) return Promise.reject(this.#abandoned);
    return new Promise((resolve, reject) => {
      this.#queue.push({ msg, tag, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.#waitingBytes += msg.length;
      void this.#pump();
    });
  }

  /**
   * ZeroMQ may take messages again (a connection was made): a head that
   * waits for room is tried now rather than after its pause, and again
   * after the shortest pause if ZeroMQ has not yet attached the connection.
   */
  wake(): void {
    this.#retry.reset();
    void this.#pump();
  }

  /**
   * Bytes that wait beyond the first `n` messages not yet handed to ZeroMQ
   * (the one being handed over counted among them): while ZeroMQ takes
   * none, the share it would otherwise hold waits here too.
   */
  bytesBeyond(n: number): number {
    let bytes = this.#waitingBytes;
    const skip = Math.min(this.#head ? n - 1 : n, this.#queue.length);
    for (let i = 0; i < skip; i++) bytes -= this.#queue[i]!.msg.length;
    return bytes;
  }

  /** Bytes that wait behind the message being handed to ZeroMQ. */
  get waitingBytes(): number {
    return this.#waitingBytes;
  }

  get idle(): boolean {
    return this.#head === undefined && this.#queue.length === 0;
  }

  /**
   * Gives up: nothing more is handed to ZeroMQ, and the sends still waiting
   * fail with `err`. Returns the tags of the messages ZeroMQ never took,
   * the one being handed over included.
   */
  abandon(err: Error): number[] {
    this.#abandoned = err;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const tags: number[] = [];
    const waiting = this.#head ? [this.#head, ...this.#queue.splice(0)] : this.#queue.splice(0);
    this.#head = undefined;
    for (const item of waiting) {
      if (item.tag !== undefined) tags.push(item.tag);
      item.done(err);
    }
    this.#waitingBytes = 0;
    return tags;
  }

  async #pump(): Promise<void> {
    if (this.#busy || this.#abandoned) return;
    this.#busy = true;
    // A new message tries the head again now; the timer would only repeat it.
    clearTimeout(this.#timer);
    this.#timer = undefined;
    try {
      for (;;) {
        let item = this.#head;
        if (!item) {
          item = this.#queue.shift();
          if (!item) return;
          this.#waitingBytes -= item.msg.length;
          this.#head = item;
        }
        const failed = await this.#try(item.msg);
        // Given up meanwhile: abandon() has settled it.
        if (this.#abandoned) return;
        if (failed === 'full') {
          this.#later();
          return;
        }
        this.#head = undefined;
        this.#retry.reset();
        item.done(failed);
      }
    } finally {
      this.#busy = false;
    }
  }

  /** One send that never waits: 'full' when ZeroMQ's queue is, the error when it failed. */
  async #try(msg: Buffer): Promise<'full' | Error | undefined> {
    try {
      await this.#socket.send(msg);
      return undefined;
    } catch (err) {
      if ((err as { code?: string }).code === 'EAGAIN') return 'full';
      return err instanceof Error ? err : new Error(`send failed: ${String(err)}`);
    }
  }

  /** Tries the head again later, each time a little later while ZeroMQ's queue stays full. */
  #later(): void {
    const wait = this.#retry.next();
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#pump();
    }, wait);
    this.#timer.unref();
  }
}

/** Counts bad frames; the first is logged, repeats are summarised periodically. */
export class BadFrames extends BadFrameLog {
  constructor(log: Logger) {
    super(log, 'dropped a bad frame');
  }
}

/** Whether a decoded value can be a request id. */
export const isId = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

// Shared with the other direct transport: one class, one meaning.
export { NotDeliveredError } from '../rpc/failover.js';
