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
 * A TCP proxy in front of RabbitMQ (or any TCP server): `cut()` destroys
 * every open socket, as a network failure would, without touching the
 * shared broker; `sever()` also drops every new connection until
 * `restore()`, an outage that lasts.
 */
export class TcpProxy {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #severed = false;

  constructor(target: { host: string; port: number } = { host: '127.0.0.1', port: 5672 }) {
    this.#server = createServer((client) => {
      if (this.#severed) {
        client.destroy();
        return;
      }
      const upstream = new Socket();
      this.#sockets.add(client);
      this.#sockets.add(upstream);
      const drop = () => {
        client.destroy();
        upstream.destroy();
        this.#sockets.delete(client);
        this.#sockets.delete(upstream);
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      upstream.connect(target.port, target.host, () => {
        client.pipe(upstream);
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

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }
}
