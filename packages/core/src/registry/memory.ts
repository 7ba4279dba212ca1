import type { InstanceRecord, Registry, Unsubscribe } from './registry.js';

const key = (service: string, id: string) => `${service}\u0000${id}`;

/**
 * The registry of an in-memory hub: records shared by every simulated
 * process of one hub, watchers told synchronously after each change (on a
 * microtask, as a network registry would be asynchronous).
 */
export class MemoryRegistryStore {
  readonly records = new Map<string, InstanceRecord>();
  readonly #watchers = new Map<string, Set<(records: InstanceRecord[]) => void>>();

  set(record: InstanceRecord): void {
    this.records.set(key(record.service, record.id), structuredClone(record));
    this.#notify(record.service);
  }

  delete(service: string, id: string): void {
    if (this.records.delete(key(service, id))) this.#notify(service);
  }

  lookup(service: string): InstanceRecord[] {
    return [...this.records.values()]
      .filter((r) => r.service === service)
      .map((r) => structuredClone(r));
  }

  watch(service: string, onChange: (records: InstanceRecord[]) => void): Unsubscribe {
    let set = this.#watchers.get(service);
    if (!set) this.#watchers.set(service, (set = new Set()));
    set.add(onChange);
    queueMicrotask(() => {
      if (set.has(onChange)) onChange(this.lookup(service));
    });
    return () => set.delete(onChange);
  }

  #notify(service: string): void {
    const set = this.#watchers.get(service);
    if (!set || set.size === 0) return;
    queueMicrotask(() => {
      const records = this.lookup(service);
      for (const fn of set) fn(records);
    });
  }
}

/** One simulated process's view of the hub's registry; closing it drops what it registered. */
export class MemoryRegistry implements Registry {
  readonly kind = 'memory';
  readonly #store: MemoryRegistryStore;
  readonly #mine = new Set<string>();
  readonly #unsubscribes = new Set<Unsubscribe>();

  constructor(store: MemoryRegistryStore) {
    this.#store = store;
  }

  register(record: InstanceRecord): Promise<void> {
    this.#store.set(record);
    this.#mine.add(key(record.service, record.id));
    return Promise.resolve();
  }

  unregister(service: string, id: string): Promise<void> {
    this.#store.delete(service, id);
    this.#mine.delete(key(service, id));
    return Promise.resolve();
  }

  lookup(service: string): Promise<InstanceRecord[]> {
    return Promise.resolve(this.#store.lookup(service));
  }

  list(): Promise<InstanceRecord[]> {
    return Promise.resolve([...this.#store.records.values()].map((r) => structuredClone(r)));
  }

  watch(service: string, onChange: (records: InstanceRecord[]) => void): Unsubscribe {
    const unsubscribe = this.#store.watch(service, onChange);
    this.#unsubscribes.add(unsubscribe);
    return () => {
      this.#unsubscribes.delete(unsubscribe);
      unsubscribe();
    };
  }

  close(): Promise<void> {
    for (const k of this.#mine) {
      const record = this.#store.records.get(k);
      if (record) this.#store.delete(record.service, record.id);
    }
    this.#mine.clear();
    for (const unsubscribe of this.#unsubscribes) unsubscribe();
    this.#unsubscribes.clear();
    return Promise.resolve();
  }
}
