import { UnknownServiceError } from '../errors.js';
import type { InstanceRecord, Registry, Unsubscribe } from '../registry/registry.js';

/**
 * Client-side load balancing for direct transports: keeps each called
 * service's live instances current through a registry watch and hands out
 * their endpoints of one role round-robin.
 */
export class InstancePicker {
  readonly #registry: Registry;
  readonly #role: string;
  readonly #known = new Map<string, { endpoints: string[]; next: number; unwatch: Unsubscribe }>();

  constructor(registry: Registry, role = 'rpc') {
    this.#registry = registry;
    this.#role = role;
  }

  /**
   * The next endpoint of a service already looked up and with live
   * instances, without a promise (the common case); undefined otherwise,
   * for `pick` to find out.
   */
  pickKnown(service: string): string | undefined {
    const entry = this.#known.get(service);
    if (!entry || entry.endpoints.length === 0) return undefined;
    return nextOf(entry);
  }

  /** The next endpoint of `service`, round-robin; UnknownServiceError when none is live. */
  async pick(service: string): Promise<string> {
    let entry = this.#known.get(service);
    if (!entry) {
      const instances = await this.#registry.lookup(service);
      entry = this.#known.get(service);
      if (!entry) {
        const created = { endpoints: this.#endpoints(instances), next: 0, unwatch: () => {} };
        // A random start spreads the first calls of many short-lived clients.
        created.next = Math.floor(Math.random() * Math.max(1, created.endpoints.length));
        created.unwatch = this.#registry.watch(service, (records) => {
          created.endpoints = this.#endpoints(records);
        });
        this.#known.set(service, created);
        entry = created;
      }
    }
    const { endpoints } = entry;
    if (endpoints.length === 0) {
      // The watch may lag behind a fresh registration: look once more before failing.
      entry.endpoints = this.#endpoints(await this.#registry.lookup(service));
      if (entry.endpoints.length === 0) {
        throw new UnknownServiceError(`no live instance of service "${service}"`);
      }
    }
    return nextOf(entry);
  }

  /** Forgets an endpoint until the registry lists it again (it failed us). */
  evict(service: string, endpoint: string): void {
    const entry = this.#known.get(service);
    if (entry) entry.endpoints = entry.endpoints.filter((e) => e !== endpoint);
  }

  close(): void {
    for (const entry of this.#known.values()) entry.unwatch();
    this.#known.clear();
  }

  #endpoints(records: InstanceRecord[]): string[] {
    const out = new Set<string>();
    for (const r of records) {
      const endpoint = r.endpoints[this.#role];
      if (endpoint) out.add(endpoint);
    }
    return [...out].sort();
  }
}

/** Round-robin over a non-empty list of endpoints. */
function nextOf(entry: { endpoints: string[]; next: number }): string {
  const endpoint = entry.endpoints[entry.next % entry.endpoints.length]!;
  entry.next = (entry.next + 1) % entry.endpoints.length;
  return endpoint;
}
