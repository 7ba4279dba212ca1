import { Backoff } from '../backoff.js';
import { UnknownServiceError } from '../errors.js';
import type { InstanceRecord, Registry, Unsubscribe } from '../registry/registry.js';
import { idempotentMethods } from './failover.js';

/** How long an endpoint that failed us is left out of picks, at first and at most. */
export const QUARANTINE_MS = { initial: 1000, max: 30_000 } as const;

/** The waits of an endpoint's failures in a row: doubled each time, up to a fifth shorter at random. */
const QUARANTINE = new Backoff({ initialMs: QUARANTINE_MS.initial, maxMs: QUARANTINE_MS.max });

/** Failed endpoints remembered at most; the oldest failure is forgotten first. */
const MAX_REFUSED = 1000;

/** What a picker knows of one called service. */
interface Known {
  /** the endpoints the registry lists, sorted */
  listed: string[];
  /** the instance ids the registry lists at each endpoint */
  ids: Map<string, string>;
  /** `listed` without the endpoints left out: what picks go to */
  usable: string[];
  /** the methods every listed instance says are safe to repeat */
  idempotent: ReadonlySet<string>;
  next: number;
  unwatch: Unsubscribe;
}

/** An endpoint left out of picks: it refused a connection or dropped one. */
interface Refused {
  /** epoch ms when it may be tried again */
  until: number;
  /** failures in a row, for the backoff */
  failures: number;
  /** the instance the registry listed there when it failed (`undefined`: none known) */
  id: string | undefined;
}

/**
 * Client-side load balancing for direct transports: keeps each called
 * service's live instances current through a registry watch and hands out
 * their endpoints of one role round-robin.
 *
 * An endpoint that failed us (`evict`: its connection was refused or
 * dropped) leaves the picks at once, before the registry notices that its
 * instance is gone, and stays out until the registry lists another
 * instance there, drops it, or a backoff passes (1 s, doubling with each
 * failure in a row, up to 30 s); `reachable` forgets its failures. When
 * every listed endpoint is left out, the one that may be tried again
 * first is picked: a lone instance is never shut out by a failure.
 */
export class InstancePicker {
  readonly #registry: Registry;
  readonly #role: string;
  readonly #known = new Map<string, Known>();
  readonly #refused = new Map<string, Refused>();
  /** the earliest `until` among the refused endpoints */
  #nextRetry = Infinity;
  readonly #now: () => number;

  constructor(registry: Registry, role = 'rpc', now: () => number = Date.now) {
    this.#registry = registry;
    this.#role = role;
    this.#now = now;
  }

  /**
   * The next endpoint of a service already looked up and with live
   * instances, without a promise (the common case); undefined otherwise,
   * for `pick` to find out.
   */
  pickKnown(service: string): string | undefined {
    const entry = this.#known.get(service);
    if (!entry || entry.listed.length === 0) return undefined;
    if (this.#nextRetry !== Infinity && this.#now() >= this.#nextRetry) this.#expire();
    return this.#nextOf(entry);
  }

  /** The next endpoint of `service`, round-robin; UnknownServiceError when none is live. */
  async pick(service: string): Promise<string> {
    let entry = this.#known.get(service);
    if (!entry) {
      const instances = await this.#registry.lookup(service);
      entry = this.#known.get(service);
      if (!entry) {
        const created: Known = {
          listed: [],
          ids: new Map(),
          usable: [],
          idempotent: new Set(),
          next: 0,
          unwatch: () => {},
        };
        this.#list(created, instances);
        // A random start spreads the first calls of many short-lived clients.
        created.next = Math.floor(Math.random() * Math.max(1, created.usable.length));
        created.unwatch = this.#registry.watch(service, (records) => this.#list(created, records));
        this.#known.set(service, created);
        entry = created;
      }
    }
    if (entry.listed.length === 0) {
      // The watch may lag behind a fresh registration: look once more before failing.
      this.#list(entry, await this.#registry.lookup(service));
      if (entry.listed.length === 0) {
        throw new UnknownServiceError(`no live instance of service "${service}"`, { service });
      }
    }
    if (this.#nextRetry !== Infinity && this.#now() >= this.#nextRetry) this.#expire();
    return this.#nextOf(entry);
  }

  /**
   * Leaves an endpoint out of picks (it refused or dropped a connection)
   * until the registry lists another instance there or a backoff passes.
   */
  evict(service: string, endpoint: string): void {
    const known = this.#known.get(service);
    const before = this.#refused.get(endpoint);
    const failures = (before?.failures ?? 0) + 1;
    // Jittered, so that many callers do not come back at once.
    const until = this.#now() + QUARANTINE.delay(failures - 1);
    this.#refused.delete(endpoint);
    this.#refused.set(endpoint, { until, failures, id: known?.ids.get(endpoint) });
    // Bounded: endpoints called by address are never listed, so never forgotten by a listing.
    if (this.#refused.size > MAX_REFUSED) {
      this.#refused.delete(this.#refused.keys().next().value!);
    }
    if (until < this.#nextRetry) this.#nextRetry = until;
    this.#refreshAll();
  }

  /**
   * The instance at `endpoint` said it stops: it leaves the picks of every
   * service at once, as one that failed us (until the registry drops it or
   * lists another instance there, or the backoff passes).
   */
  leaving(endpoint: string): void {
    for (const [service, known] of this.#known) {
      if (known.ids.has(endpoint)) return this.evict(service, endpoint);
    }
    // Called by address only: nothing lists it.
    this.evict('', endpoint);
  }

  /** The endpoint answered (a connection to it was made): its past failures are forgotten. */
  reachable(endpoint: string): void {
    if (this.#refused.delete(endpoint)) this.#refreshAll();
  }

  /**
   * Whether every instance of `service` the registry lists says `method`
   * is safe to repeat (`@rpc({ idempotent: true })`).
   */
  idempotent(service: string, method: string): boolean {
    return this.#known.get(service)?.idempotent.has(method) ?? false;
  }

  /** Whether an endpoint is left out of picks now. */
  isRefused(endpoint: string): boolean {
    const r = this.#refused.get(endpoint);
    return r !== undefined && r.until > this.#now();
  }

  close(): void {
    for (const entry of this.#known.values()) entry.unwatch();
    this.#known.clear();
    this.#refused.clear();
    this.#nextRetry = Infinity;
  }

  /** Takes the registry's records of a service as its listing. */
  #list(entry: Known, records: InstanceRecord[]): void {
    const ids = new Map<string, string>();
    for (const r of records) {
      const endpoint = r.endpoints[this.#role];
      if (endpoint) ids.set(endpoint, r.id);
    }
    const before = entry.ids;
    entry.ids = ids;
    entry.idempotent = idempotentMethods(records);
    entry.listed = [...ids.keys()].sort();
    // A failed endpoint of this service that the registry no longer lists,
    // or lists with another instance (one started since), is forgotten: what
    // comes there next is new.
    for (const [endpoint, refused] of this.#refused) {
      if (before.has(endpoint) && ids.get(endpoint) !== refused.id) this.#refused.delete(endpoint);
    }
    this.#refresh(entry);
  }

  /** Recomputes what picks go to once some backoff has passed. */
  #expire(): void {
    const now = this.#now();
    let next = Infinity;
    for (const r of this.#refused.values()) if (r.until > now && r.until < next) next = r.until;
    this.#nextRetry = next;
    this.#refreshAll();
  }

  #refreshAll(): void {
    for (const entry of this.#known.values()) this.#refresh(entry);
  }

  #refresh(entry: Known): void {
    if (this.#refused.size === 0) {
      entry.usable = entry.listed;
      return;
    }
    const now = this.#now();
    entry.usable = entry.listed.filter((e) => {
      const r = this.#refused.get(e);
      return r === undefined || r.until <= now;
    });
  }

  /** Round-robin over the usable endpoints; when none is, the one to be tried again first. */
  #nextOf(entry: Known): string {
    const { usable } = entry;
    if (usable.length === 0) {
      let best = entry.listed[0]!;
      let at = Infinity;
      for (const e of entry.listed) {
        const until = this.#refused.get(e)?.until ?? 0;
        if (until < at) [best, at] = [e, until];
      }
      return best;
    }
    const endpoint = usable[entry.next % usable.length]!;
    entry.next = (entry.next + 1) % usable.length;
    return endpoint;
  }
}
