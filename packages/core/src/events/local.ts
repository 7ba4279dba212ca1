import type { BackendContext } from '../backends.js';
import { MalformedRequestError, UsageError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { InstanceRecord, Registry } from '../registry/registry.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import type { Serializer } from '../serializers/serializer.js';
import { isObject, parseCallHeaders } from '../transports/wire-check.js';
import {
  BadFrames,
  ZmqRequester,
  ZmqResponder,
  loadZmq,
  type RequestHandler,
} from '../transports/zmq-link.js';
import { deliveryGroup, subscriptionMatches } from './match.js';
import type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './transport.js';

export interface LocalEventOptions {
  serializer?: Serializer;
  /** how long one delivery attempt waits for the receiver's acknowledgement */
  ackTimeoutMs?: number;
  /** how long an event is retried on other instances before it is dropped */
  retryWindowMs?: number;
  /** how long a registry listing is reused by publish */
  cacheMs?: number;
}

/** Longest delay a timer can hold (about 24.8 days). */
export const MAX_EVENT_DELAY_MS = 2 ** 31 - 1;
/** How long close() waits for handlers that are still running. */
const HANDLER_DRAIN_MS = 5000;

/** One instance's handler that may receive an event. */
interface Member {
  endpoint: string;
  instance: string;
  service: string;
  handler: string;
}

/** What a publisher sends to a receiver: which of its handlers take the event, and when. */
interface Delivery {
  event: EventMessage;
  targets: Array<{ service: string; handler: string }>;
  /** milliseconds the receiver waits before running the handlers */
  delay: number;
}

interface Held {
  timer: NodeJS.Timeout;
  due: number;
  event: EventMessage;
  spec: SubscriptionSpec;
  handler: EventHandlerFn;
}

/**
 * Embedded events, no broker: the publisher finds subscribing instances
 * through the registry (their records carry `subscriptions` and an
 * `events` endpoint), picks one instance per delivery group round-robin
 * (every instance for broadcast handlers) and hands the event over ZeroMQ,
 * waiting for the receiver's acknowledgement of receipt. A failed delivery
 * is retried on another instance for a bounded time, then dropped with a
 * warning. Delayed events are handed over at once and held by the
 * receiver until due, so that the emitter may exit right away; a receiver
 * that stops gracefully hands its held events to a peer of the same group.
 * Nothing is stored on disk: see the README for what can be lost.
 */
export class LocalEventTransport implements EventTransport {
  readonly kind = 'local';
  readonly #registry: Registry;
  readonly #ctx: BackendContext;
  readonly #log: Logger;
  readonly #serializer: Serializer;
  readonly #zmq: Awaited<ReturnType<typeof loadZmq>>;
  readonly #bad: BadFrames;
  readonly #requester: ZmqRequester;
  readonly #ackTimeoutMs: number;
  readonly #retryWindowMs: number;
  readonly #cacheMs: number;
  readonly #subs: Array<{ spec: SubscriptionSpec; handler: EventHandlerFn }> = [];
  readonly #cursor = new Map<string, number>();
  readonly #publishing = new Set<Promise<void>>();
  readonly #running = new Set<Promise<void>>();
  readonly #held = new Set<Held>();
  #responder: ZmqResponder | undefined;
  #cache: { at: number; records: InstanceRecord[] } | undefined;
  #listing: Promise<InstanceRecord[]> | undefined;
  #accepting = false;
  #closed = false;

  private constructor(
    zmq: Awaited<ReturnType<typeof loadZmq>>,
    registry: Registry,
    ctx: BackendContext,
    options: LocalEventOptions,
  ) {
    this.#zmq = zmq;
    this.#registry = registry;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ transport: 'local-events' });
    this.#serializer = options.serializer ?? new MsgpackSerializer();
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 1000;
    this.#retryWindowMs = options.retryWindowMs ?? 3000;
    this.#cacheMs = options.cacheMs ?? 500;
    this.#bad = new BadFrames(this.#log);
    this.#requester = new ZmqRequester(zmq, {
      serializer: this.#serializer,
      log: this.#log,
      bad: this.#bad,
    });
  }

  static async create(
    registry: Registry,
    ctx: BackendContext,
    options: LocalEventOptions = {},
  ): Promise<LocalEventTransport> {
    return new LocalEventTransport(await loadZmq(), registry, ctx, options);
  }

  /** Frames dropped as bad (undecodable, mis-shaped, over the size limit). */
  get badFrames(): number {
    return this.#bad.count;
  }

  /**
   * Resolves once every delivery group has acknowledged the event, or once
   * the groups that could not be reached were given up (logged, not thrown):
   * a short-lived emitter may exit as soon as it resolves.
   */
  async publish(event: EventMessage, options: PublishOptions = {}): Promise<void> {
    const delay = options.delay ?? 0;
    if (!Number.isFinite(delay) || delay < 0 || delay > MAX_EVENT_DELAY_MS) {
      throw new UsageError(`event delay must be between 0 and ${MAX_EVENT_DELAY_MS} ms`);
    }
    // Encode now so that an unserializable body fails the emit itself.
    this.#serializer.encode(event);
    const task = this.#publish(event, delay, new Set());
    this.#publishing.add(task);
    try {
      await task;
    } finally {
      this.#publishing.delete(task);
    }
  }

  subscribe(spec: SubscriptionSpec, handler: EventHandlerFn): Promise<void> {
    if (this.#closed) return Promise.reject(new UsageError('the event transport is closed'));
    this.#subs.push({ spec: { ...spec }, handler });
    return Promise.resolve();
  }

  async start(): Promise<Record<string, string>> {
    if (this.#closed) throw new UsageError('the event transport is closed');
    this.#accepting = true;
    if (this.#subs.length === 0) return {};
    this.#responder ??= await ZmqResponder.bind(this.#zmq, this.#ctx.bindHost, this.#receive, {
      serializer: this.#serializer,
      log: this.#log,
      bad: this.#bad,
      label: 'events',
    });
    return { events: this.#responder.endpoint };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // Refused from now on: publishers retry on another instance.
    this.#accepting = false;
    await this.#handOverHeld();
    await Promise.allSettled([...this.#publishing]);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#running]),
      new Promise((r) => (timer = setTimeout(r, HANDLER_DRAIN_MS))),
    ]);
    clearTimeout(timer);
    this.#requester.close();
    await this.#responder?.close();
  }

  async #publish(event: EventMessage, delay: number, exclude: ReadonlySet<string>): Promise<void> {
    let groups = route(await this.#records(false), event);
    if (groups.size === 0 && Date.now() - (this.#cache?.at ?? 0) > 50) {
      // A subscriber may have registered since the listing was cached.
      groups = route(await this.#records(true), event);
    }
    if (groups.size === 0) {
      this.#log.debug('no subscriber for event', { type: event.type, eventId: event.id });
      return;
    }
    await Promise.all(
      [...groups].map(([group, members]) => this.#deliver(event, delay, group, members, exclude)),
    );
  }

  /** Delivers to one member of `group`, trying others (and fresh listings) until the retry window ends. */
  async #deliver(
    event: EventMessage,
    delay: number,
    group: string,
    initial: Member[],
    exclude: ReadonlySet<string>,
  ): Promise<void> {
    const started = Date.now();
    const deadline = started + this.#retryWindowMs;
    const failed = new Set<string>(exclude);
    let members = initial;
    for (;;) {
      const candidates = members.filter((m) => !failed.has(m.endpoint));
      if (candidates.length > 0) {
        // A random start spreads the events of short-lived emitters (`svc emit`) too.
        const n = this.#cursor.get(group) ?? Math.floor(Math.random() * candidates.length);
        this.#cursor.set(group, n + 1);
        const member = candidates[n % candidates.length]!;
        const delivery: Delivery = {
          event,
          targets: [{ service: member.service, handler: member.handler }],
          delay: Math.max(0, delay - (Date.now() - started)),
        };
        try {
          const reply = await this.#requester.request(
            member.endpoint,
            delivery,
            this.#ackTimeoutMs,
            `delivery of event "${event.type}" to ${member.endpoint}`,
          );
          if (isObject(reply) && reply['ok'] === true) return;
          this.#log.debug('an instance refused an event', { endpoint: member.endpoint, reply });
        } catch (err) {
          this.#log.debug('an event delivery failed', {
            endpoint: member.endpoint,
            error: (err as Error).message,
          });
        }
        failed.add(member.endpoint);
        continue;
      }
      if (Date.now() >= deadline || this.#closedAndIdle()) break;
      await new Promise((r) => setTimeout(r, 200));
      members = route(await this.#records(true), event).get(group) ?? [];
    }
    this.#log.warn('dropped an event: no subscribing instance took it in time', {
      type: event.type,
      source: event.source,
      eventId: event.id,
      traceId: event.headers.traceId,
      group: group.split('\u0000').slice(0, 3).join('/'),
      afterMs: Date.now() - started,
    });
  }

  #closedAndIdle(): boolean {
    return this.#closed && this.#publishing.size === 0;
  }

  async #records(fresh: boolean): Promise<InstanceRecord[]> {
    if (!fresh && this.#cache && Date.now() - this.#cache.at < this.#cacheMs) {
      return this.#cache.records;
    }
    this.#listing ??= this.#registry.list().then(
      (records) => {
        this.#cache = { at: Date.now(), records };
        this.#listing = undefined;
        return records;
      },
      (err: unknown) => {
        this.#listing = undefined;
        throw err;
      },
    );
    return this.#listing;
  }

  readonly #receive: RequestHandler = async (body) => {
    const delivery = parseDelivery(body);
    if (!this.#accepting) return { ok: false, reason: 'closing' };
    const { event, targets, delay } = delivery;
    const matched = this.#subs.filter(
      ({ spec }) =>
        subscriptionMatches(spec, event) &&
        targets.some((t) => t.service === spec.service && t.handler === spec.handler),
    );
    // A stale registry entry may point at a port that another process reuses.
    if (matched.length === 0) return { ok: false, reason: 'no such subscription here' };
    for (const { spec, handler } of matched) {
      if (delay > 0) this.#hold(event, spec, handler, delay);
      else this.#run(event, spec, handler);
    }
    return { ok: true };
  };

  #hold(event: EventMessage, spec: SubscriptionSpec, handler: EventHandlerFn, delay: number) {
    const held: Held = {
      due: Date.now() + delay,
      event,
      spec,
      handler,
      timer: setTimeout(() => {
        this.#held.delete(held);
        this.#run(event, spec, handler);
      }, delay),
    };
    this.#held.add(held);
  }

  #run(event: EventMessage, spec: SubscriptionSpec, handler: EventHandlerFn): void {
    const run = Promise.resolve()
      .then(() => handler(structuredClone(event)))
      .catch((err: unknown) => {
        // The handler gave up after its own retries; local events are not redelivered.
        this.#log.warn('an event handler gave up; the event is not redelivered', {
          type: event.type,
          eventId: event.id,
          traceId: event.headers.traceId,
          service: spec.service,
          handler: spec.handler,
          error: err instanceof Error ? err.message : String(err),
        });
      });
    this.#running.add(run);
    void run.finally(() => this.#running.delete(run));
  }

  /**
   * On a graceful stop, delayed events held for pool and singleton handlers
   * go to another instance of the same group with their remaining delay;
   * broadcast ones were meant for this instance only.
   */
  async #handOverHeld(): Promise<void> {
    const held = [...this.#held];
    this.#held.clear();
    if (held.length === 0) return;
    const own = new Set(this.#responder ? [this.#responder.endpoint] : []);
    await Promise.allSettled(
      held.map(async (h) => {
        clearTimeout(h.timer);
        if (h.spec.mode === 'broadcast') return;
        const group = deliveryGroup(h.spec, '');
        const members = route(await this.#records(true), h.event).get(group) ?? [];
        const remaining = Math.max(0, h.due - Date.now());
        await this.#deliver(h.event, remaining, group, members, own);
      }),
    );
  }
}

/** The delivery groups of an event among the registry's records, members in a stable order. */
function route(records: InstanceRecord[], event: EventMessage): Map<string, Member[]> {
  const groups = new Map<string, Member[]>();
  for (const record of records) {
    const endpoint = record.endpoints['events'];
    if (!endpoint) continue;
    for (const sub of record.subscriptions) {
      const spec: SubscriptionSpec = {
        service: record.service,
        handler: sub.handler,
        type: sub.type,
        mode: sub.mode,
      };
      if (sub.source !== undefined) spec.source = sub.source;
      if (!subscriptionMatches(spec, event)) continue;
      const group = deliveryGroup(spec, record.id);
      const member = {
        endpoint,
        instance: record.id,
        service: record.service,
        handler: sub.handler,
      };
      const list = groups.get(group);
      if (!list) groups.set(group, [member]);
      else if (!list.some((m) => m.endpoint === endpoint && m.handler === member.handler)) {
        list.push(member);
      }
    }
  }
  for (const list of groups.values()) {
    list.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  }
  return groups;
}

function parseDelivery(body: unknown): Delivery {
  if (!isObject(body)) throw new MalformedRequestError('event delivery is not an object');
  const { event, targets, delay } = body;
  if (!isObject(event)) throw new MalformedRequestError('event delivery lacks an event');
  const { id, type, source } = event;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof source !== 'string') {
    throw new MalformedRequestError('event lacks an id, type or source');
  }
  if (
    !Array.isArray(targets) ||
    targets.length === 0 ||
    targets.length > 1000 ||
    !targets.every(
      (t) => isObject(t) && typeof t['service'] === 'string' && typeof t['handler'] === 'string',
    )
  ) {
    throw new MalformedRequestError('event delivery targets are not [{ service, handler }]');
  }
  if (typeof delay !== 'number' || !(delay >= 0 && delay <= MAX_EVENT_DELAY_MS)) {
    throw new MalformedRequestError('event delivery delay is not a number of milliseconds');
  }
  return {
    event: { id, type, source, body: event['body'], headers: parseCallHeaders(event['headers']) },
    targets: targets as Array<{ service: string; handler: string }>,
    delay,
  };
}
