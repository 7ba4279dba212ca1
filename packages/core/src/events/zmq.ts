import { advertiseHostOf } from '../advertise.js';
import type { BackendContext } from '../backends.js';
import { UsageError } from '../errors.js';
import { limitsOf } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { InstanceRecord, Registry } from '../registry/registry.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import type { Serializer } from '../serializers/serializer.js';
import { isObject } from '../zmq/wire-check.js';
import { ClusterAuth } from '../security/auth.js';
import { BadFrames, loadZmq } from '../zmq/link.js';
import { ZmqRequester } from '../zmq/requester.js';
import { ZmqResponder, type RequestHandler } from '../zmq/responder.js';
import {
  MAX_EVENT_DELAY_MS,
  parseDelivery,
  route,
  type Delivery,
  type Member,
} from './zmq-wire.js';
import { deliveryGroup, subscriptionMatches } from './match.js';
import { HeldEvents } from './zmq-held.js';
import type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './transport.js';

export { MAX_EVENT_DELAY_MS } from './zmq-wire.js';

export interface ZmqEventOptions {
  serializer?: Serializer;
  /** how long one delivery attempt waits for the receiver's acknowledgement */
  ackTimeoutMs?: number;
  /** how long an event is retried on other instances before it is dropped */
  retryWindowMs?: number;
  /** how long a registry listing is reused by publish */
  cacheMs?: number;
}

/** How long close() waits for handlers that are still running. */
const HANDLER_DRAIN_MS = 5000;

/** One subscription of this instance; `prefetch` bounds how many of its handlers run at once. */
interface Sub {
  spec: SubscriptionSpec;
  handler: EventHandlerFn;
  active: number;
  /** runs waiting for a slot, each handed one as another run ends */
  waiting: Array<() => void>;
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
export class ZmqEventTransport implements EventTransport {
  readonly kind = 'local';
  readonly #registry: Registry;
  readonly #ctx: BackendContext;
  readonly #log: Logger;
  readonly #serializer: Serializer;
  readonly #zmq: Awaited<ReturnType<typeof loadZmq>>;
  readonly #bad: BadFrames;
  readonly #auth: ClusterAuth;
  readonly #requester: ZmqRequester;
  readonly #ackTimeoutMs: number;
  readonly #retryWindowMs: number;
  readonly #cacheMs: number;
  readonly #subs: Sub[] = [];
  readonly #cursor = new Map<string, number>();
  readonly #publishing = new Set<Promise<void>>();
  readonly #running = new Set<Promise<void>>();
  readonly #held: HeldEvents<Sub>;
  readonly #limits: ReturnType<typeof limitsOf>;
  #responder: ZmqResponder | undefined;
  #cache: { at: number; records: InstanceRecord[] } | undefined;
  #listing: Promise<InstanceRecord[]> | undefined;
  #accepting = false;
  #closed = false;

  private constructor(
    zmq: Awaited<ReturnType<typeof loadZmq>>,
    registry: Registry,
    ctx: BackendContext,
    options: ZmqEventOptions,
  ) {
    this.#zmq = zmq;
    this.#registry = registry;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ transport: 'local-events' });
    this.#serializer = options.serializer ?? new MsgpackSerializer();
    this.#ackTimeoutMs = options.ackTimeoutMs ?? 2000;
    this.#retryWindowMs = options.retryWindowMs ?? 3000;
    this.#cacheMs = options.cacheMs ?? 500;
    this.#limits = limitsOf(ctx.limits);
    this.#held = new HeldEvents(this.#limits, this.#serializer, this.#log);
    this.#bad = new BadFrames(this.#log);
    this.#auth = ctx.auth ?? new ClusterAuth({ cluster: ctx.cluster }, { log: this.#log });
    this.#requester = new ZmqRequester(zmq, {
      auth: this.#auth,
      serializer: this.#serializer,
      log: this.#log,
      bad: this.#bad,
      label: 'events',
      writeBufferBytes: this.#limits.writeBufferBytes,
    });
  }

  static async create(
    registry: Registry,
    ctx: BackendContext,
    options: ZmqEventOptions = {},
  ): Promise<ZmqEventTransport> {
    return new ZmqEventTransport(await loadZmq(), registry, ctx, options);
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
    this.#subs.push({ spec: { ...spec }, handler, active: 0, waiting: [] });
    return Promise.resolve();
  }

  async start(): Promise<Record<string, string>> {
    if (this.#closed) throw new UsageError('the event transport is closed');
    this.#accepting = true;
    if (this.#subs.length === 0) return {};
    this.#responder ??= await ZmqResponder.bind(this.#zmq, this.#ctx.bindHost, this.#receive, {
      advertise: advertiseHostOf(this.#ctx),
      serializer: this.#serializer,
      log: this.#log,
      bad: this.#bad,
      auth: this.#auth,
      label: 'events',
      writeBufferBytes: this.#limits.writeBufferBytes,
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
    this.#bad.close();
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
      // A registry that cannot be read now leaves no one to try: the window runs out.
      const records = await this.#records(true).catch(() => []);
      members = route(records, event).get(group) ?? [];
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
    let bytes = 0;
    if (delay > 0) {
      const room = this.#held.room(event, matched.length);
      if (typeof room === 'string') return { ok: false, reason: room };
      bytes = room;
    }
    for (const sub of matched) {
      if (delay > 0) this.#held.hold(event, sub, delay, bytes, this.#run);
      else this.#run(event, sub);
    }
    return { ok: true };
  };

  readonly #run = (event: EventMessage, sub: Sub): void => {
    const { spec, handler } = sub;
    const run = this.#acquire(sub)
      .then(async () => {
        try {
          await handler(structuredClone(event));
        } finally {
          this.#release(sub);
        }
      })
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
  };

  async #acquire(sub: Sub): Promise<void> {
    const limit = sub.spec.prefetch;
    if (!limit || limit < 1 || sub.active < limit) {
      sub.active++;
      return;
    }
    await new Promise<void>((resolve) => sub.waiting.push(resolve));
  }

  #release(sub: Sub): void {
    const next = sub.waiting.shift();
    // The slot passes straight to the next run, so that no newcomer slips in between.
    if (next) next();
    else sub.active--;
  }

  /**
   * On a graceful stop, delayed events held for pool and singleton handlers
   * go to another instance of the same group with their remaining delay;
   * broadcast ones were meant for this instance only.
   */
  async #handOverHeld(): Promise<void> {
    const held = this.#held.takeAll();
    if (held.length === 0) return;
    const own = new Set(this.#responder ? [this.#responder.endpoint] : []);
    await Promise.allSettled(
      held.map(async (h) => {
        if (h.sub.spec.mode === 'broadcast') return;
        const group = deliveryGroup(h.sub.spec, '');
        const members = route(await this.#records(true), h.event).get(group) ?? [];
        const remaining = Math.max(0, h.due - Date.now());
        await this.#deliver(h.event, remaining, group, members, own);
      }),
    );
  }
}
