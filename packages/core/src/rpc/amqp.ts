import { randomUUID } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ChannelSlot } from '../amqp/channel.js';
import { AmqpConnection, type AmqpConnectionOptions } from '../amqp/connection.js';
import { buryOrRequeue, InflightWork, safely, type DeadLetterPublisher } from '../amqp/consumer.js';
import { deadQueueName } from '../amqp/dead-letter.js';
import { encodeHeaders } from '../amqp/headers.js';
import {
  JSON_TYPE,
  decodeReply,
  decodeRequest,
  encodeReply,
  encodeRequest,
  requestProblem,
} from '../amqp/rpc-codec.js';
import { DeclareCache, type Outgoing } from '../amqp/publish.js';
import {
  BackendError,
  ConnectionLostError,
  MalformedRequestError,
  MethodNotFoundError,
  RpcTimeoutError,
  UnknownServiceError,
  toWireError,
} from '../errors.js';
import type { Logger } from '../log/logger.js';
import { JsonSerializer } from '../serializers/json.js';
import type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './transport.js';

/** Nameko's RPC exchange (requests and replies). */
export const RPC_EXCHANGE = 'nameko-rpc';

/** Nameko's queue of a service's RPC requests. */
export function rpcQueueName(service: string): string {
  return `rpc-${service}`;
}

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

/** A call waiting for its reply, with what it published so that it can be published again. */
interface Pending {
  resolve: (response: RpcResponse) => void;
  reject: (err: Error) => void;
  service: string;
  request: Outgoing;
  timer: NodeJS.Timeout;
  /** the channel its request went out on, last */
  channel: Channel | undefined;
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
  /** where given-up messages are copied to (`<queue>.dead`) */
  readonly #deadLetters: DeadLetterPublisher;
  readonly #sub: ChannelSlot<Channel>;
  readonly #replyId = randomUUID();
  readonly #replyQueue: string;
  readonly #pending = new Map<string, Pending>();
  readonly #inflight = new InflightWork();
  readonly #services: string[] = [];
  readonly #consumers: Array<{ channel: Channel; tag: string }> = [];
  #handler: RpcHandler | undefined;
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
    this.#deadLetters = {
      slot: this.#pub,
      declares: this.#declares,
      waitMs: this.#waitMs,
      log: this.#log,
    };
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
      const id = msg.properties.correlationId as string | undefined;
      const p = id === undefined ? undefined : this.#pending.get(id);
      if (!p || id === undefined) return;
      this.#settle(id, p);
      p.reject(
        new UnknownServiceError(
          `no service "${p.service}" listens on RabbitMQ (no queue ${rpcQueueName(p.service)})`,
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
      this.#consumers.push({ channel: ch, tag: consumerTag });
      // Calls whose channel went away before their reply came: their requests
      // may not have reached the broker, so they go out again. One that did
      // runs twice; its first reply settles the call and the second is dropped.
      for (const [id, p] of this.#pending) if (p.channel !== ch) this.#publish(ch, id, p);
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
      this.#consumers.push({ channel: ch, tag: consumerTag });
    });
  }

  async listen(services: readonly string[], handler: RpcHandler): Promise<Record<string, string>> {
    if (this.#closing) throw new BackendError('the AMQP RPC transport is closed');
    this.#handler = handler;
    for (const s of services) if (!this.#services.includes(s)) this.#services.push(s);
    const ch = await this.#sub.get(this.#waitMs);
    for (const service of services) await this.#setupServer(ch, service);
    return {};
  }

  // ---- client ----

  call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closing) {
      return Promise.reject(new ConnectionLostError('the AMQP RPC transport is closed'));
    }
    const id = randomUUID();
    return new Promise<RpcResponse>((resolve, reject) => {
      let outgoing: Outgoing;
      try {
        outgoing = {
          exchange: RPC_EXCHANGE,
          routingKey: `${request.service}.${request.method}`,
          content: encodeRequest(request, this.#json),
          options: {
            mandatory: true,
            replyTo: this.#replyId,
            correlationId: id,
            contentType: JSON_TYPE,
            contentEncoding: 'utf-8',
            deliveryMode: 2,
            priority: 0,
            headers: encodeHeaders(request.headers),
          },
        };
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
        return;
      }
      const timer = setTimeout(() => {
        const p = this.#pending.get(id);
        if (!p) return;
        this.#settle(id, p);
        p.reject(
          new RpcTimeoutError(
            `${request.service}.${request.method} did not answer within ${options.timeout} ms`,
          ),
        );
      }, options.timeout);
      const pending: Pending = {
        resolve,
        reject,
        service: request.service,
        request: outgoing,
        timer,
        channel: undefined,
      };
      this.#pending.set(id, pending);
      // The common case: a channel set up for replies is open; publish now, without a promise.
      const ready = this.#sub.current;
      if (ready !== undefined && ready === this.#clientChannel) {
        this.#publish(ready, id, pending);
        return;
      }
      this.#ensureClient(options.timeout).then(
        (ch) => {
          // published already by a channel set up meanwhile, or settled
          if (this.#pending.get(id) === pending && pending.channel === undefined)
            this.#publish(ch, id, pending);
        },
        (err: unknown) => {
          if (this.#pending.get(id) !== pending) return;
          this.#settle(id, pending);
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }

  /** Publishes a call's request on `ch`; a channel that died meanwhile gets it again once back. */
  #publish(ch: Channel, id: string, p: Pending): void {
    p.channel = ch;
    const { exchange, routingKey, content, options } = p.request;
    try {
      ch.publish(exchange, routingKey, content, options);
    } catch (err) {
      // the channel closed: #setupClient publishes the request again on the next one
      this.#log.debug('RPC request not published; it goes out again on the next channel', {
        correlationId: id,
        error: (err as Error).message,
      });
    }
  }

  /** Forgets a call that is being settled. */
  #settle(id: string, p: Pending): void {
    clearTimeout(p.timer);
    this.#pending.delete(id);
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
    const id = msg.properties.correlationId as string | undefined;
    const pending = id === undefined ? undefined : this.#pending.get(id);
    if (!pending || id === undefined) {
      this.#log.debug('reply to an unknown or finished call dropped', { correlationId: id });
      return;
    }
    this.#settle(id, pending);
    try {
      pending.resolve(decodeReply(msg.content, this.#json, pending.service));
    } catch (err) {
      pending.reject(err as Error);
    }
  }

  // ---- server ----

  #onRequest(ch: Channel, service: string, msg: ConsumeMessage | null): void {
    if (msg === null) {
      this.#log.warn('RabbitMQ cancelled the consumer of an RPC queue; setting it up again', {
        queue: rpcQueueName(service),
      });
      if (!this.#closing) this.#sub.invalidate(ch);
      return;
    }
    const job = this.#serve(ch, service, msg).catch((err: Error) => {
      this.#log.error('RPC request handling failed', {
        queue: rpcQueueName(service),
        error: err.message,
      });
    });
    this.#inflight.track(job);
  }

  async #serve(ch: Channel, service: string, msg: ConsumeMessage): Promise<void> {
    const queue = rpcQueueName(service);
    if (this.#closing) {
      safely(() => ch.nack(msg, false, true));
      return;
    }
    const replyTo = msg.properties.replyTo as string | undefined;
    const problem = requestProblem(msg);
    if (problem) {
      this.#log.warn('bad RPC request', {
        queue,
        routingKey: msg.fields.routingKey,
        error: problem,
      });
      if (replyTo) {
        const error = toWireError(new MalformedRequestError(problem));
        return this.#reply(ch, msg, { ok: false, error });
      }
      return this.#bury(ch, queue, msg, `no reply_to; ${problem}`);
    }
    if (!replyTo) {
      this.#log.warn('RPC request without reply_to; moving it to the dead-letter queue', {
        queue,
        deadQueue: deadQueueName(queue),
        routingKey: msg.fields.routingKey,
      });
      return this.#bury(ch, queue, msg, 'no reply_to: nowhere to answer');
    }
    return this.#reply(ch, msg, await this.#run(service, msg));
  }

  async #run(service: string, msg: ConsumeMessage): Promise<RpcResponse> {
    const decoded = decodeRequest(service, msg, this.#json);
    if ('error' in decoded) return { ok: false, error: decoded.error };
    const handler = this.#handler;
    if (!handler) {
      return { ok: false, error: toWireError(new MethodNotFoundError(decoded.request.method)) };
    }
    try {
      return await handler(decoded.request);
    } catch (err) {
      return { ok: false, error: toWireError(err) };
    }
  }

  /**
   * Publishes the reply on the request's own channel, then acks the request
   * there: the broker routes the reply before it handles the ack. On a
   * channel that died meanwhile neither happens, and the broker delivers the
   * request again.
   */
  #reply(ch: Channel, msg: ConsumeMessage, response: RpcResponse): void {
    const content = encodeReply(response, this.#json);
    const correlationId = msg.properties.correlationId as string | undefined;
    try {
      ch.publish(RPC_EXCHANGE, msg.properties.replyTo as string, content, {
        contentType: JSON_TYPE,
        contentEncoding: 'utf-8',
        deliveryMode: 2,
        priority: 0,
        headers: {},
        ...(correlationId === undefined ? {} : { correlationId }),
      });
      ch.ack(msg);
    } catch (err) {
      // not acked: the broker redelivers the request once we are back
      this.#log.error('cannot publish an RPC reply', { error: (err as Error).message });
    }
  }

  #bury(ch: Channel, queue: string, msg: ConsumeMessage, reason: string): Promise<void> {
    return buryOrRequeue(this.#deadLetters, ch, queue, msg, reason, 'an RPC request');
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    await Promise.allSettled(this.#consumers.map((c) => c.channel.cancel(c.tag)));
    for (const [id, p] of this.#pending) {
      this.#settle(id, p);
      p.reject(new ConnectionLostError('the AMQP RPC transport closed before the reply came'));
    }
    await this.#inflight.drain(this.#drainMs);
    const ch = this.#sub.current;
    if (this.#client && ch) await ch.deleteQueue(this.#replyQueue).catch(() => {});
    await this.#sub.close();
    await this.#pub.close();
    await this.#conn.release();
  }
}
