import type { Serializer } from '../serializers/serializer.js';
import { deliveryGroup, subscriptionMatches } from './match.js';
import type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './transport.js';

interface Member {
  transport: MemoryEventTransport;
  spec: SubscriptionSpec;
  handler: EventHandlerFn;
}

/** The event side of an in-memory hub. */
export class MemoryEventStore {
  readonly members: Member[] = [];
  readonly #cursor = new Map<string, number>();
  #nextId = 0;

  newId(): string {
    return `m${++this.#nextId}`;
  }

  /** One member per delivery group, round-robin within the group. */
  route(event: EventMessage): Member[] {
    const groups = new Map<string, Member[]>();
    for (const m of this.members) {
      if (!m.transport.started || !subscriptionMatches(m.spec, event)) continue;
      const g = deliveryGroup(m.spec, m.transport.id);
      const list = groups.get(g);
      if (list) list.push(m);
      else groups.set(g, [m]);
    }
    const chosen: Member[] = [];
    for (const [g, list] of groups) {
      const n = this.#cursor.get(g) ?? 0;
      this.#cursor.set(g, n + 1);
      chosen.push(list[n % list.length]!);
    }
    return chosen;
  }
}

/**
 * Events between simulated processes of one hub: same routing as the real
 * backends (pool, broadcast, singleton, delays); nothing is durable, and an
 * event nobody subscribes to is dropped.
 */
export class MemoryEventTransport implements EventTransport {
  readonly kind = 'memory';
  readonly id: string;
  started = false;
  readonly #store: MemoryEventStore;
  readonly #serializer: Serializer;
  readonly #timers = new Set<NodeJS.Timeout>();
  readonly #inflight = new Set<Promise<void>>();

  constructor(store: MemoryEventStore, serializer: Serializer) {
    this.#store = store;
    this.#serializer = serializer;
    this.id = store.newId();
  }

  publish(event: EventMessage, options: PublishOptions = {}): Promise<void> {
    // Encode now so that an unserializable body fails the emit, as on a network.
    const bytes = this.#serializer.encode(event);
    const deliver = () => {
      for (const member of this.#store.route(event)) {
        const copy = this.#serializer.decode(bytes) as EventMessage;
        member.transport.#deliver(member, copy);
      }
    };
    if (options.delay && options.delay > 0) {
      const timer = setTimeout(() => {
        this.#timers.delete(timer);
        deliver();
      }, options.delay);
      this.#timers.add(timer);
    } else {
      queueMicrotask(deliver);
    }
    return Promise.resolve();
  }

  subscribe(spec: SubscriptionSpec, handler: EventHandlerFn): Promise<void> {
    this.#store.members.push({ transport: this, spec, handler });
    return Promise.resolve();
  }

  start(): Promise<Record<string, string>> {
    this.started = true;
    return Promise.resolve({});
  }

  async close(): Promise<void> {
    this.started = false;
    for (const timer of this.#timers) clearTimeout(timer);
    this.#timers.clear();
    for (let i = this.#store.members.length - 1; i >= 0; i--) {
      if (this.#store.members[i]!.transport === this) this.#store.members.splice(i, 1);
    }
    await Promise.allSettled([...this.#inflight]);
  }

  #deliver(member: Member, event: EventMessage): void {
    // A handler that gave up has been logged by its container; memory events are not durable.
    const run = member.handler(event).catch(() => {});
    this.#inflight.add(run);
    void run.finally(() => this.#inflight.delete(run));
  }
}
