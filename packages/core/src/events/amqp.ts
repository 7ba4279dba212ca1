import { randomBytes } from 'node:crypto';
import type { Channel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { ChannelSlot } from '../amqp/channel.js';
import { AmqpConnection, type AmqpConnectionOptions } from '../amqp/connection.js';
import {
  buryOrRequeue,
  consumersUnavailable,
  InflightWork,
  safely,
  type DeadLetterPublisher,
} from '../amqp/consumer.js';
import { deadQueueName } from '../amqp/dead-letter.js';
import { decodeHeaders, encodeHeaders, receivedTraceId } from '../amqp/headers.js';
import { DeclareCache, publishConfirmed } from '../amqp/publish.js';
import { BackendError, UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { JsonSerializer } from '../serializers/json.js';
import type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './transport.js';

/**
 * The cluster-wide topic exchange every `<source>.events` exchange is bound
 * into (by svc publishers), so handlers that name no source see every
 * source's events. Its name cannot be a Nameko service's events exchange.
 */
export const ALL_EVENTS_EXCHANGE = 'svc.all-events';

/** Nameko's events exchange of a source service. */
export function eventExchange(source: string): string {
  return `${source}.events`;
}

/**
 * Queue name of a subscription, as Nameko names them (NAMEKO-WIRE §1.2);
 * handlers without a source use `*` in the source's place.
 */
export function eventQueueName(spec: SubscriptionSpec, broadcastId: string): string {
  const head = `evt-${spec.source ?? '*'}-${spec.type}`;
  switch (spec.mode) {
    case 'singleton':
      return head;
    case 'broadcast':
      return `${head}--${spec.service}.${spec.handler}-${broadcastId}`;
    default:
      return `${head}--${spec.service}.${spec.handler}`;
  }
}

/** The wait queue of delayed events of one source, type and delay. */
export function delayQueueName(source: string, type: string, delayMs: number): string {
  return `svc.delay.${source}.${type}.${delayMs}ms`;
}

/** Options of {@link AmqpEventTransport}. */
export interface AmqpEventOptions {
  log: Logger;
  /** how long an emit or start waits for a broker that is away (ms, default 5000) */
  waitMs?: number;
  /** how long close() lets running handlers finish before the broker redelivers them (ms, default 5000) */
  drainMs?: number;
  /** use this process's shared connection for the URL (default true) */
  shared?: boolean;
  connection?: AmqpConnectionOptions;
}

interface Subscription {
  spec: SubscriptionSpec;
  handler: EventHandlerFn;
  queue: string;
  consumer?: { channel: Channel; tag: string };
}

const JSON_TYPE = 'application/json';

/**
 * Events through RabbitMQ in Nameko's topology: topic exchange
 * `<source>.events`, routing key = event type, bare JSON bodies, queues
 * named as Nameko names them. Emits are confirmed by the broker; handlers'
 * messages are acked after the handler resolved; failures and poison
 * messages go to `<queue>.dead`.
 */
export class AmqpEventTransport implements EventTransport {
  readonly kind = 'amqp';
  readonly #conn: AmqpConnection;
  readonly #log: Logger;
  readonly #waitMs: number;
  readonly #drainMs: number;
  readonly #json = new JsonSerializer();
  readonly #declares = new DeclareCache();
  readonly #pub: ChannelSlot<ConfirmChannel>;
  /** where given-up messages are copied to (`<queue>.dead`) */
  readonly #deadLetters: DeadLetterPublisher;
  readonly #sub: ChannelSlot<Channel>;
  readonly #subs: Subscription[] = [];
  readonly #inflight = new InflightWork();
  readonly #broadcastId = randomBytes(8).toString('hex');
  readonly #queues = new Set<string>();
  readonly #exchanges = new Set<string>();
  #started = false;
  #closing = false;

  constructor(url: string, options: AmqpEventOptions) {
    this.#log = options.log;
    this.#waitMs = options.waitMs ?? 5000;
    this.#drainMs = options.drainMs ?? 5000;
    this.#conn = AmqpConnection.open(url, this.#log, options.shared ?? true, options.connection);
    this.#pub = new ChannelSlot<ConfirmChannel>(this.#conn, this.#log, { confirm: true });
    this.#deadLetters = {
      slot: this.#pub,
      declares: this.#declares,
      waitMs: this.#waitMs,
      log: this.#log,
    };
    this.#sub = new ChannelSlot<Channel>(this.#conn, this.#log, {
      confirm: false,
      onOpen: async (ch) => {
        for (const sub of this.#subs) await this.#consume(ch, sub);
      },
    });
  }

  /** Queues and exchanges this transport declared (for tools and test clean-up). */
  declared(): { queues: string[]; exchanges: string[] } {
    return { queues: [...this.#queues], exchanges: [...this.#exchanges] };
  }

  async publish(event: EventMessage, options: PublishOptions = {}): Promise<void> {
    if (this.#closing) throw new BackendError('the AMQP event transport is closed');
    const delay = options.delay ?? 0;
    if (!Number.isFinite(delay) || delay < 0) {
      throw new UsageError(`event delay must be a number of milliseconds >= 0, got ${delay}`);
    }
    const exchange = eventExchange(event.source);
    const props: Options.Publish = {
      deliveryMode: 2,
      priority: 0,
      contentType: JSON_TYPE,
      contentEncoding: 'utf-8',
      messageId: event.id,
      headers: encodeHeaders(event.headers),
    };
    const content = this.#json.encode(event.body);
    const ms = Math.round(delay);
    if (ms === 0) {
      await publishConfirmed(
        this.#pub,
        this.#waitMs,
        { exchange, routingKey: event.type, content, options: props },
        (ch) => this.#declareSource(ch, event.source),
      );
      return;
    }
    // One wait queue per (source, type, delay), published to directly: a
    // message sits in exactly one wait queue, so two delays of one type
    // never deliver twice (lymph bound every wait queue by type).
    const wait = delayQueueName(event.source, event.type, ms);
    this.#queues.add(wait);
    await publishConfirmed(
      this.#pub,
      this.#waitMs,
      { exchange: '', routingKey: wait, content, options: props },
      async (ch) => {
        await this.#declareSource(ch, event.source);
        // Declared on every delayed emit: that restarts the queue's expiry
        // clock, which therefore always outlasts the messages inside.
        await ch.assertQueue(wait, {
          durable: true,
          arguments: {
            'x-message-ttl': ms,
            'x-dead-letter-exchange': exchange,
            'x-dead-letter-routing-key': event.type,
            'x-expires': ms + 60_000,
          },
        });
      },
    );
  }

  async #declareSource(ch: ConfirmChannel, source: string): Promise<void> {
    const exchange = eventExchange(source);
    this.#exchanges.add(exchange);
    await this.#declares.once(ch, `exchange:${exchange}`, async () => {
      await ch.assertExchange(exchange, 'topic', { durable: true });
      await ch.assertExchange(ALL_EVENTS_EXCHANGE, 'topic', { durable: true });
      await ch.bindExchange(ALL_EVENTS_EXCHANGE, exchange, '#');
    });
  }

  async subscribe(spec: SubscriptionSpec, handler: EventHandlerFn): Promise<void> {
    if (this.#closing) throw new BackendError('the AMQP event transport is closed');
    const sub: Subscription = { spec, handler, queue: eventQueueName(spec, this.#broadcastId) };
    this.#subs.push(sub);
    this.#queues.add(sub.queue);
    this.#queues.add(deadQueueName(sub.queue));
    if (spec.source !== undefined) this.#exchanges.add(eventExchange(spec.source));
    // after start(): consume now (a channel that opens later sets up every subscription itself)
    if (this.#started) await this.#consume(await this.#sub.get(this.#waitMs), sub);
  }

  async start(): Promise<Record<string, string>> {
    this.#started = true;
    if (this.#subs.length > 0) await this.#sub.get(this.#waitMs);
    return {};
  }

  #consume(ch: Channel, sub: Subscription): Promise<void> {
    return this.#declares.once(ch, `consume:${sub.queue}`, () => this.#consumeNow(ch, sub));
  }

  async #consumeNow(ch: Channel, sub: Subscription): Promise<void> {
    const { spec, queue } = sub;
    const exchange = spec.source === undefined ? ALL_EVENTS_EXCHANGE : eventExchange(spec.source);
    await ch.assertExchange(exchange, 'topic', { durable: true });
    if (spec.mode === 'broadcast') {
      await ch.assertQueue(queue, { durable: false, exclusive: true, autoDelete: true });
    } else {
      // exactly Nameko's declaration, so that both can share the queue
      await ch.assertQueue(queue, { durable: true });
    }
    await ch.bindQueue(queue, exchange, spec.type);
    await ch.prefetch(spec.prefetch ?? 10);
    const { consumerTag } = await ch.consume(queue, (msg) => this.#onMessage(ch, sub, msg), {
      noAck: false,
    });
    sub.consumer = { channel: ch, tag: consumerTag };
  }

  #onMessage(ch: Channel, sub: Subscription, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // the queue was deleted (by hand, or a broker node went away):
      // a new channel declares it again and resumes consuming
      this.#log.warn('RabbitMQ cancelled the consumer of an event queue; setting it up again', {
        queue: sub.queue,
      });
      if (!this.#closing) this.#sub.invalidate(ch);
      return;
    }
    const job = this.#handle(ch, sub, msg).catch((err: Error) => {
      this.#log.error('event delivery failed', { queue: sub.queue, error: err.message });
    });
    this.#inflight.track(job);
  }

  async #handle(ch: Channel, sub: Subscription, msg: ConsumeMessage): Promise<void> {
    if (this.#closing) {
      // arrived while closing: give it back at once for another instance
      safely(() => ch.nack(msg, false, true));
      return;
    }
    const contentType = msg.properties.contentType as string | undefined;
    if (contentType !== JSON_TYPE) {
      return this.#poison(ch, sub, msg, `content type "${contentType ?? ''}" is not ${JSON_TYPE}`);
    }
    let body: unknown;
    try {
      body = this.#json.decode(msg.content);
    } catch (err) {
      return this.#poison(ch, sub, msg, (err as Error).message);
    }
    const exchange = msg.fields.exchange;
    const event: EventMessage = {
      id:
        typeof msg.properties.messageId === 'string'
          ? msg.properties.messageId
          : randomBytes(8).toString('hex'),
      type: msg.fields.routingKey,
      source: exchange.endsWith('.events')
        ? exchange.slice(0, -'.events'.length)
        : (sub.spec.source ?? ''),
      body,
      headers: decodeHeaders(msg.properties.headers),
    };
    try {
      await sub.handler(event);
    } catch (err) {
      this.#log.warn('event handler gave up; moving the event to the dead-letter queue', {
        queue: sub.queue,
        deadQueue: deadQueueName(sub.queue),
        eventType: event.type,
        eventId: event.id,
        traceId: event.headers.traceId,
        error: (err as Error).message,
      });
      return this.#bury(ch, sub, msg, `handler failed: ${(err as Error).message}`);
    }
    safely(() => ch.ack(msg));
  }

  async #poison(ch: Channel, sub: Subscription, msg: ConsumeMessage, why: string): Promise<void> {
    const traceId = receivedTraceId(msg.properties.headers);
    this.#log.warn('undecodable event; moving it to the dead-letter queue', {
      queue: sub.queue,
      deadQueue: deadQueueName(sub.queue),
      ...(traceId === undefined ? {} : { traceId }),
      error: why,
    });
    return this.#bury(ch, sub, msg, `undecodable: ${why}`);
  }

  #bury(ch: Channel, sub: Subscription, msg: ConsumeMessage, reason: string): Promise<void> {
    return buryOrRequeue(this.#deadLetters, ch, sub.queue, msg, reason, 'an event');
  }

  /**
   * Not ready while the connection is away, and after it is back until
   * every subscription (once started) is consuming again on the channel now
   * in use: the channel becomes current only once all of them are set up
   * on it, so ready means an event published now is taken. Reads local
   * state only: no broker round trip per probe.
   */
  unavailable(): string | undefined {
    const down = this.#conn.unavailable();
    if (down !== undefined) return down;
    if (!this.#started) return undefined;
    return consumersUnavailable(
      this.#sub.current,
      this.#subs.map((s) => s.consumer),
    );
  }

  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    // Stop new deliveries, let running handlers finish (and ack) for a
    // while; whatever is still running after that is redelivered by the
    // broker once the channel closes.
    await Promise.allSettled(
      this.#subs.map(async (sub) => {
        if (sub.consumer) await sub.consumer.channel.cancel(sub.consumer.tag);
      }),
    );
    await this.#inflight.drain(this.#drainMs);
    await this.#sub.close();
    await this.#pub.close();
    await this.#conn.release();
  }
}
