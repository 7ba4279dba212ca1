import { connect, type Channel, type ChannelModel } from 'amqplib';
import { createServer, Socket, type Server } from 'node:net';

export { CaptureLogger as MemoryLogger } from '@svc/core/testing';

/** The shared RabbitMQ every AMQP test talks to. */
export const AMQP_URL = process.env['SVC_TEST_AMQP_URL'] ?? 'amqp://guest:guest@127.0.0.1:5672/';

/**
 * A raw amqplib connection for wire tests and clean-up; fails loudly when
 * RabbitMQ is not there (these tests never skip).
 */
export async function rawConnection(): Promise<{ conn: ChannelModel; ch: Channel }> {
  let conn: ChannelModel;
  try {
    conn = await connect(AMQP_URL);
  } catch (err) {
    throw new Error(
      `RabbitMQ is not reachable at ${AMQP_URL} (${(err as Error).message}): the AMQP tests need it running`,
    );
  }
  const ch = await conn.createChannel();
  return { conn, ch };
}

/** Collects queue and exchange names to delete after a test file, and deletes them. */
export class Cleanup {
  readonly queues = new Set<string>();
  readonly exchanges = new Set<string>();

  add(names: { queues?: Iterable<string>; exchanges?: Iterable<string> }): void {
    for (const q of names.queues ?? []) this.queues.add(q);
    for (const e of names.exchanges ?? []) this.exchanges.add(e);
  }

  async run(): Promise<void> {
    const { conn } = await rawConnection();
    try {
      const ch = await conn.createChannel();
      // deleting a name that does not exist is no error in RabbitMQ 3.x+
      for (const q of this.queues) await ch.deleteQueue(q);
      for (const e of this.exchanges) await ch.deleteExchange(e);
      await ch.close();
    } finally {
      await conn.close().catch(() => {});
    }
  }
}

/**
 * Passes a client's AMQP bytes on to the broker frame by frame, and holds
 * back every frame on a channel other than 0 while `holding()` says so:
 * the connection itself (its handshake, heartbeats, close) goes through,
 * while opening a channel, declaring and consuming wait for `release()`.
 */
class AmqpFrameGate {
  readonly #out: Socket;
  readonly #holding: () => boolean;
  /** bytes of the protocol header ("AMQP" 0 0 9 1) still to pass */
  #headerLeft = 8;
  #buf: Buffer = Buffer.alloc(0);
  #held: Buffer[] = [];

  constructor(out: Socket, holding: () => boolean) {
    this.#out = out;
    this.#holding = holding;
  }

  get held(): number {
    return this.#held.length;
  }

  push(chunk: Buffer): void {
    this.#buf = this.#buf.length === 0 ? chunk : Buffer.concat([this.#buf, chunk]);
    if (this.#headerLeft > 0) {
      const n = Math.min(this.#headerLeft, this.#buf.length);
      this.#out.write(this.#buf.subarray(0, n));
      this.#buf = this.#buf.subarray(n);
      this.#headerLeft -= n;
    }
    // frame: type (1), channel (2), payload size (4), payload, frame end (1)
    while (this.#buf.length >= 7) {
      const total = 7 + this.#buf.readUInt32BE(3) + 1;
      if (this.#buf.length < total) break;
      const frame = Buffer.from(this.#buf.subarray(0, total));
      this.#buf = this.#buf.subarray(total);
      if (frame.readUInt16BE(1) !== 0 && this.#holding()) this.#held.push(frame);
      else this.#out.write(frame);
    }
  }

  /** Sends the held frames, in order. */
  release(): void {
    for (const frame of this.#held) this.#out.write(frame);
    this.#held = [];
  }
}

/**
 * A TCP proxy in front of RabbitMQ (or any TCP server): `cut()` destroys
 * every open socket, as a network failure would, without touching the
 * shared broker; `sever()` also drops every new connection until
 * `restore()`, an outage that lasts. With `{ amqp: true }` it reads the
 * clients' AMQP frames, and `hold()` keeps every channel's frames from the
 * broker until `release()`: a client reconnects, and cannot open a
 * channel, declare or consume meanwhile.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #gates = new Set<AmqpFrameGate>();
  #severed = false;
  #holding = false;

  constructor(
    target: { host: string; port: number } = { host: '127.0.0.1', port: 5672 },
    options: { amqp?: boolean } = {},
  ) {
    this.#server = createServer((client) => {
      if (this.#severed) {
        client.destroy();
        return;
      }
      const upstream = new Socket();
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const gate = options.amqp ? new AmqpFrameGate(upstream, () => this.#holding) : undefined;
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
        if (gate) this.#gates.delete(gate);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      upstream.connect(target.port, target.host, () => {
        if (gate) {
          this.#gates.add(gate);
          client.on('data', (chunk: Buffer) => gate.push(chunk));
        } else {
          client.pipe(upstream);
        }
        upstream.pipe(client);
      });
    });
  }

  /** Starts listening on a free port; resolves with the AMQP URL through the proxy. */
  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return `amqp://guest:guest@127.0.0.1:${this.port}/`;
  }

  /** The port the proxy listens on (after `listen()`). */
  get port(): number {
    const addr = this.#server.address();
    if (addr === null || typeof addr === 'string') throw new Error('proxy has no port');
    return addr.port;
  }

  /** Destroys every connection through the proxy. */
  cut(): void {
    for (const s of this.#sockets) s.destroy();
    this.#sockets.clear();
    this.#gates.clear();
  }

  /** Cuts every connection and drops new ones until `restore()`. */
  sever(): void {
    this.#severed = true;
    this.cut();
  }

  /** Lets connections through again after `sever()`. */
  restore(): void {
    this.#severed = false;
  }

  /** Holds every channel's frames, on open connections and new ones (needs `{ amqp: true }`). */
  hold(): void {
    this.#holding = true;
  }

  /** Frames held on the open connections: a client has connected and waits for a channel. */
  get held(): number {
    let n = 0;
    for (const gate of this.#gates) n += gate.held;
    return n;
  }

  /** Sends the held frames on and stops holding. */
  release(): void {
    this.#holding = false;
    for (const gate of this.#gates) gate.release();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
