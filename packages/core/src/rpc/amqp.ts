import { randomUUID } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ChannelSlot } from '../amqp/channel.js';
import { consumersUnavailable } from '../amqp/consumer.js';
import { AmqpConnection, type AmqpConnectionOptions } from '../amqp/connection.js';
import { deadQueueName } from '../amqp/dead-letter.js';
import { TIMEOUT_HEADER, encodeHeaders } from '../amqp/headers.js';
import {
  JSON_TYPE,
  RPC_EXCHANGE,
  decodeReply,
  encodeRequest,
  rpcQueueName,
} from '../amqp/rpc-codec.js';
import { AmqpRpcServer } from '../amqp/rpc-server.js';
import { DeclareCache, type Outgoing } from '../amqp/publish.js';
import {
  BackendError,
  ConnectionLostError,
  RpcTimeoutError,
  UnknownServiceError,
} from '../errors.js';
import type { Logger } from '../log/logger.js';
import { JsonSerializer } from '../serializers/json.js';
import { PendingCalls, type PendingCall } from './pending.js';
import type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './transport.js';

/** Options of {@link AmqpRpcTransport}. */
export interface AmqpRpcOptions {
  log: Logger;
  /** the reply queue is `rpc.reply-<clientName>-<uuid>` */
  clientName: string;
  /** requests one server runs at once per service (AMQP prefetch, default 10 like Nameko) */
  prefetch?: number;
  /** how long a publish or listen waits for a broker that is away (ms, default 5000) */
  waitMs?: number;
  /** how long close() lets running requests finish before the broker redelivers them (ms, default 5000) */
  drainMs?: number;
  /** use this process's shared connection for the URL (default true) */
  shared?: boolean;
  connection?: AmqpConnectionOptions;
}

/** What a waiting call keeps: what it published, so that it can be published again. */
interface Sent {
  request: Outgoing;
  /** the channel its request went out on, last */
  channel: Channel | undefined;
}
type Pending = PendingCall<RpcResponse, Sent>;

/** A consumer this transport started: its channel and tag. */
interface Consumer {
  channel: Channel;
  tag: string;
}

/**
 * RPC through RabbitMQ in Nameko's wire format (NAMEKO-WIRE §1.3–1.7):
 * requests on `nameko-rpc` with key `<service>.<method>`, body
 * `{args, kwargs}`, replies `{result, error}` to the caller's reply queue.
 *
 * A server publishes a reply on the channel its request came on and acks
 * the request right after it: the broker handles one channel's frames in
 * order, so an acked request's reply was routed, and a server that dies
 * mid-call has its request redelivered. A client publishes its requests
 * `mandatory` (a request no queue takes comes back at once as
 * UnknownServiceError) and, when its channel was lost before the reply
 * came, publishes the unanswered ones again on the next channel. Its reply
 * queue is durable, so replies to requests that got through wait for it.
 * Neither side waits for publisher confirms: a confirmed reply before the
 * ack (Nameko's way) cost two more broker round trips per call and gave
 * nothing more than the channel's order but across a broker crash.
 */
export class AmqpRpcTransport implements RpcTransport {
  readonly kind = 'amqp';
  readonly #conn: AmqpConnection;
  readonly #log: Logger;
  readonly #waitMs: number;
  readonly #drainMs: number;
  readonly #prefetch: number;
  readonly #json = new JsonSerializer();
  readonly #declares = new DeclareCache();
  readonly #pub: ChannelSlot<ConfirmChannel>;
  readonly #sub: ChannelSlot<Channel>;
  readonly #replyId = randomUUID();
  readonly #replyQueue: string;
  readonly #pending = new PendingCalls<RpcResponse, Sent>();
  readonly #correlation = new CorrelationIds();
  readonly #server: AmqpRpcServer;
  readonly #services: string[] = [];
  /** each served service's queue consumer, on the channel it was started on last */
  readonly #serverConsumers = new Map<string, Consumer>();
  /** the reply queue's consumer, once a call set it up */
  #replyConsumer: Consumer | undefined;
  #client = false;
  /** the channel whose reply consumer is set up */
  #clientChannel: Channel | undefined;
  #closing = false;

  constructor(url: string, options: AmqpRpcOptions) {
    this.#log = options.log;
    this.#waitMs = options.waitMs ?? 5000;
    this.#drainMs = options.drainMs ?? 5000;
    this.#prefetch = options.prefetch ?? 10;
    this.#replyQueue = `rpc.reply-${options.clientName}-${this.#replyId}`;
    this.#conn = AmqpConnection.open(url, this.#log, options.shared ?? true, options.connection);
    this.#pub = new ChannelSlot<ConfirmChannel>(this.#conn, this.#log, {
      confirm: true,
      onOpen: async (ch) => {
        await ch.assertExchange(RPC_EXCHANGE, 'topic', { durable: true });
      },
    });
    this.#server = new AmqpRpcServer({
      log: this.#log,
      json: this.#json,
      deadLetters: {
        slot: this.#pub,
        declares: this.#declares,
        waitMs: this.#waitMs,
        log: this.#log,
      },
    });
    this.#sub = new ChannelSlot<Channel>(this.#conn, this.#log, {
      confirm: false,
      onOpen: (ch) => this.#setup(ch),
    });
  }

  /** Queues and exchanges this transport declared (for tools and test clean-up). */
  declared(): { queues: string[]; exchanges: string[] } {
    const queues = [this.#replyQueue];
    for (const s of this.#services) queues.push(rpcQueueName(s), deadQueueName(rpcQueueName(s)));
    return { queues, exchanges: [] };
  }

  /** Name of this process's reply queue. */
  get replyQueue(): string {
    return this.#replyQueue;
  }

  async #setup(ch: Channel): Promise<void> {
    // A mandatory request that no queue takes comes back on the channel it went out on.
    ch.on('return', (msg: ConsumeMessage) => {
      const p = this.#pending.take(this.#correlation.callOf(msg.properties.correlationId));
      p?.reject(
        new UnknownServiceError(
          `no service "${p.what}" listens on RabbitMQ (no queue ${rpcQueueName(p.what)})`,
          { service: p.what },
        ),
      );
    });
    if (this.#client) await this.#setupClient(ch);
    for (const service of this.#services) await this.#setupServer(ch, service);
  }

  #setupClient(ch: Channel): Promise<void> {
    return this.#declares.once(ch, 'client', async () => {
      await ch.assertExchange(RPC_EXCHANGE, 'topic', { durable: true });
      // Nameko 2.9+: durable, expiring, so a client that reconnects finds its replies
      await ch.assertQueue(this.#replyQueue, {
        durable: true,
        arguments: { 'x-expires': 300_000 },
      });
      await ch.bindQueue(this.#replyQueue, RPC_EXCHANGE, this.#replyId);
      const { consumerTag } = await ch.consume(this.#replyQueue, (msg) => this.#onReply(ch, msg), {
        noAck: true,
      });
      this.#replyConsumer = { channel: ch, tag: consumerTag };
      // Calls whose channel went away before their reply came: their requests
      // may not have reached the broker, so they go out again. One that did
      // runs twice; its first reply settles the call and the second is dropped.
      for (const [, p] of this.#pending.entries()) if (p.meta.channel !== ch) this.#publish(ch, p);
      this.#clientChannel = ch;
    });
  }

  #setupServer(ch: Channel, service: string): Promise<void> {
    return this.#declares.once(ch, `server:${service}`, async () => {
      const queue = rpcQueueName(service);
      await ch.assertExchange(RPC_EXCHANGE, 'topic', { durable: true });
      await ch.assertQueue(queue, { durable: true });
      await ch.bindQueue(queue, RPC_EXCHANGE, `${service}.*`);
      // svc's built-ins (`svc.inspect`) have a dotted name: one more word than Nameko's `*` matches.
      await ch.bindQueue(queue, RPC_EXCHANGE, `${service}.svc.*`);
      await ch.prefetch(this.#prefetch);
      const { consumerTag } = await ch.consume(queue, (msg) => this.#onRequest(ch, service, msg), {
        noAck: false,
      });
      this.#serverConsumers.set(service, { channel: ch, tag: consumerTag });
    });
  }

  async listen(services: readonly string[], handler: RpcHandler): Promise<Record<string, string>> {
    if (this.#closing) throw new BackendError('the AMQP RPC transport is closed');
    this.#server.handler = handler;
    for (const s of services) if (!this.#services.includes(s)) this.#services.push(s);
    const ch = await this.#sub.get(this.#waitMs);
    for (const service of services) await this.#setupServer(ch, service);
    return {};
  }

  // ---- client ----

  call(call: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closing) {
      return Promise.reject(new ConnectionLostError('the AMQP RPC transport is closed'));
    }
    const id = this.#correlation.next();
    let request: Outgoing;
    try {
      request = this.#outgoing(call, this.#correlation.of(id), options.timeout);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const sent: Sent = { request, channel: undefined };
    // A cancel fails the call here only: Nameko's wire has no way to tell the
    // server, whose worker stops at the deadline the request carries.
    const answer = this.#pending.wait(
      id,
      options.timeout,
      call.service,
      call.method,
      sent,
      options.cancel,
    );
    const pending = this.#pending.get(id);
    if (!pending) return answer;
    // The common case: a channel set up for replies is open; publish now, without a promise.
    const ready = this.#sub.current;
    if (ready !== undefined && ready === this.#clientChannel) {
      this.#publish(ready, pending);
      return answer;
    }
    this.#ensureClient(options.timeout).then(
      (ch) => {
        // published already by a channel set up meanwhile, or settled
        if (this.#pending.get(id) === pending && sent.channel === undefined)
          this.#publish(ch, pending);
      },
      (err: unknown) => {
        if (this.#pending.get(id) !== pending) return;
        this.#pending.reject(id, err instanceof Error ? err : new Error(String(err)));
      },
    );
    // The call's timer and the wait for the broker are both the call's timeout, and the
    // timer fired first: a call never sent because the broker is down (or refused our
    // credentials) reports that, not that the service did not answer.
    return answer.catch((err: unknown) => {
      if (err instanceof RpcTimeoutError && sent.channel === undefined && !this.#conn.current) {
        throw this.#conn.unreachable(options.timeout);
      }
      throw err;
    });
  }

  /**
   * A call's request as published on the RPC exchange. Its deadline goes
   * as svc's own header, and as the message's expiration: a request still
   * queued when its caller has given up is dropped by the broker instead
   * of run.
   */
  #outgoing(request: RpcRequest, correlationId: string, timeout: number): Outgoing {
    const headers = encodeHeaders(request.headers);
    headers[TIMEOUT_HEADER] = timeout;
    return {
      exchange: RPC_EXCHANGE,
      routingKey: `${request.service}.${request.method}`,
      content: encodeRequest(request, this.#json),
      options: {
        mandatory: true,
        replyTo: this.#replyId,
        correlationId,
        contentType: JSON_TYPE,
        contentEncoding: 'utf-8',
        deliveryMode: 2,
        priority: 0,
        expiration: String(Math.max(1, Math.ceil(timeout))),
        headers,
      },
    };
  }

  /** Publishes a call's request on `ch`; a channel that died meanwhile gets it again once back. */
  #publish(ch: Channel, p: Pending): void {
    p.meta.channel = ch;
    const { exchange, routingKey, content, options } = p.meta.request;
    try {
      ch.publish(exchange, routingKey, content, options);
    } catch (err) {
      // the channel closed: #setupClient publishes the request again on the next one
      this.#log.debug('RPC request not published; it goes out again on the next channel', {
        correlationId: p.meta.request.options.correlationId,
        error: (err as Error).message,
      });
    }
  }

  async #ensureClient(waitMs: number): Promise<Channel> {
    this.#client = true;
    const ch = await this.#sub.get(Math.min(waitMs, this.#waitMs));
    await this.#setupClient(ch);
    return ch;
  }

  #onReply(ch: Channel, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // the reply queue was deleted (it expires after 5 minutes without a consumer)
      this.#log.warn('RabbitMQ cancelled the reply consumer; setting it up again', {
        queue: this.#replyQueue,
      });
      if (!this.#closing) this.#sub.invalidate(ch);
      return;
    }
    const id: unknown = msg.properties.correlationId;
    const pending = this.#pending.take(this.#correlation.callOf(id));
    if (!pending) {
      this.#log.debug('reply to an unknown or finished call dropped', { correlationId: id });
      return;
    }
    try {
      pending.resolve(decodeReply(msg.content, this.#json, pending.what));
    } catch (err) {
      pending.reject(err as Error);
    }
  }

  #onRequest(ch: Channel, service: string, msg: ConsumeMessage | null): void {
    if (msg !== null) return this.#server.take(ch, service, msg);
    this.#log.warn('RabbitMQ cancelled the consumer of an RPC queue; setting it up again', {
      queue: rpcQueueName(service),
    });
    if (!this.#closing) this.#sub.invalidate(ch);
  }

  /**
   * Not ready while the connection is away, and after it is back until
   * every consumer is consuming again on the channel now in use: each
   * served service's queue and, once a call has set it up, the reply queue.
   * A channel counts only once its set-up has finished (the slot makes it
   * current then), so ready means a request published now is taken. Reads
   * local state only: no broker round trip per probe.
   */
  unavailable(): string | undefined {
    const down = this.#conn.unavailable();
    if (down !== undefined) return down;
    const expected = this.#services.map((s) => this.#serverConsumers.get(s));
    if (this.#clientChannel !== undefined) expected.push(this.#replyConsumer);
    return consumersUnavailable(this.#sub.current, expected);
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    const consumers = [...this.#serverConsumers.values()];
    if (this.#replyConsumer) consumers.push(this.#replyConsumer);
    await Promise.allSettled(consumers.map((c) => c.channel.cancel(c.tag)));
    this.#pending.failAll(
      new ConnectionLostError('the AMQP RPC transport closed before the reply came'),
    );
    await this.#server.close(this.#drainMs);
    const ch = this.#sub.current;
    if (this.#client && ch) await ch.deleteQueue(this.#replyQueue).catch(() => {});
    await this.#sub.close();
    await this.#pub.close();
    await this.#conn.release();
  }
}

/**
 * Correlation ids as Nameko makes them, a uuid4 string per call, whose last
 * twelve hex digits count this client's calls: the reply's id gives back the
 * call's number, by which the waiting calls are kept (an IdTable, not a Map
 * of strings: `id-table.ts` says why). The first 24 characters are random
 * per client, and every reply queue is the client's own.
 */
class CorrelationIds {
  readonly #prefix = randomUUID().slice(0, 24);
  #count = 0;

  /** The next call's number. */
  next(): number {
    return (this.#count = (this.#count + 1) % 0x7fffffff);
  }

  /** The correlation id of call `n`. */
  of(n: number): string {
    return this.#prefix + n.toString(16).padStart(12, '0');
  }

  /** The call a reply's correlation id names; -1 when it is not one of ours. */
  callOf(id: unknown): number {
    if (typeof id !== 'string' || id.length !== 36 || !id.startsWith(this.#prefix)) return -1;
    const n = Number.parseInt(id.slice(24), 16);
    // parseInt reads past what it does not understand ("1 " is 1): the id must be the one we made.
    return this.of(n) === id ? n : -1;
  }
}
