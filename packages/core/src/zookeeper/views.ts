import type * as Zk from 'node-zookeeper-client';
import { BackendError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { InstanceRecord, Unsubscribe } from '../registry/registry.js';

export type Watcher = (event: Zk.Event) => void;

interface Listener {
  fn: (instances: InstanceRecord[]) => void;
  /** the snapshot it was last given, so it hears of changes only */
  last?: string;
}

/** One service's instances, kept current by ZooKeeper watches. */
interface ServiceView {
  service: string;
  /** the records as ZooKeeper holds them */
  all: InstanceRecord[];
  /** those of `all` whose process, on this host, is known to be gone */
  dead: Set<InstanceRecord>;
  /** when `dead` was last worked out (performance.now()) */
  checkedAt: number;
  /** what callers see: `all` but the dead */
  records: InstanceRecord[];
  snapshot: string;
  loaded: boolean;
  firstLoad: Promise<void>;
  resolveFirstLoad: () => void;
  listeners: Set<Listener>;
  /** bumped by our own writes, so a read that started before one is read again */
  generation: number;
  running: boolean;
  again: boolean;
  retryTimer?: NodeJS.Timeout;
  /** one function per view: the library keeps a watcher once per path and function */
  watcher: Watcher;
}

/** Reads a service's instances, arming `watcher` on what it read. */
export type ReadService = (service: string, watcher: Watcher) => Promise<InstanceRecord[]>;

/** Which of the records belong to processes of this host that are gone. */
export type DeadRecords = (records: InstanceRecord[]) => Set<InstanceRecord>;

/** How often watched services' processes of this host are checked, in milliseconds. */
export const LIVENESS_CHECK_MS = 250;

/**
 * The local cache of the ZooKeeper registry: one view per service looked
 * up or watched, re-read whenever one of its watches fires, and the
 * listeners of each told of every change with the full list.
 */
export class ServiceViews {
  readonly #views = new Map<string, ServiceView>();
  readonly #read: ReadService;
  readonly #connected: () => boolean;
  readonly #log: Logger;
  readonly #timeoutMs: number;
  readonly #where: string;
  readonly #dead: DeadRecords;
  readonly #checkMs: number;
  #checkTimer?: NodeJS.Timeout;
  #closed = false;

  constructor(options: {
    read: ReadService;
    connected: () => boolean;
    log: Logger;
    timeoutMs: number;
    /** names the server in errors */
    where: string;
    /** which records' processes are gone (this host's only): left out of what callers see */
    dead?: DeadRecords;
    checkMs?: number;
  }) {
    this.#dead = options.dead ?? (() => new Set());
    this.#checkMs = options.checkMs ?? LIVENESS_CHECK_MS;
    this.#read = options.read;
    this.#connected = options.connected;
    this.#log = options.log;
    this.#timeoutMs = options.timeoutMs;
    this.#where = options.where;
  }

  /** The cached instances of a service, when its view has loaded. */
  cached(service: string): InstanceRecord[] | undefined {
    const view = this.#views.get(service);
    return view?.loaded ? view.records : undefined;
  }

  /** The service's instances, from the cache once loaded (the first call waits for a read). */
  async lookup(service: string): Promise<InstanceRecord[]> {
    const view = this.#view(service);
    if (!view.loaded) await this.#waitLoaded(view);
    // A watched view is checked by the timer; one only looked up, when asked.
    if (performance.now() - view.checkedAt > this.#checkMs) this.#check(view);
    return structuredClone(view.records);
  }

  watch(service: string, onChange: (instances: InstanceRecord[]) => void): Unsubscribe {
    const view = this.#view(service);
    const listener: Listener = { fn: onChange };
    view.listeners.add(listener);
    this.#checkTimer ??= setInterval(() => this.#checkWatched(), this.#checkMs).unref();
    if (view.loaded) queueMicrotask(() => this.#deliver(view, listener));
    return () => {
      view.listeners.delete(listener);
    };
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#checkTimer);
    for (const view of this.#views.values()) {
      view.listeners.clear();
      clearTimeout(view.retryTimer);
      view.resolveFirstLoad();
    }
    this.#views.clear();
  }

  #view(service: string): ServiceView {
    let view = this.#views.get(service);
    if (view) return view;
    let resolveFirstLoad!: () => void;
    const firstLoad = new Promise<void>((r) => (resolveFirstLoad = r));
    const created: ServiceView = {
      service,
      all: [],
      dead: new Set(),
      checkedAt: -Infinity,
      records: [],
      snapshot: '[]',
      loaded: false,
      firstLoad,
      resolveFirstLoad,
      listeners: new Set(),
      generation: 0,
      running: false,
      again: false,
      watcher: () => void this.#refresh(created),
    };
    view = created;
    this.#views.set(service, view);
    void this.#refresh(view);
    return view;
  }

  async #waitLoaded(view: ServiceView): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new BackendError(
              `could not read ${view.service}'s instances from ${this.#where} within ${this.#timeoutMs}ms`,
            ),
          ),
        this.#timeoutMs,
      );
    });
    try {
      await Promise.race([view.firstLoad, timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (this.#closed) throw new BackendError('the ZooKeeper registry is closed');
  }

  /** Reads every view again (after a reconnection or a new session). */
  refreshAll(): void {
    for (const view of this.#views.values()) void this.#refresh(view);
  }

  /** Reads a service's instances again (arming watches) and tells listeners; one read at a time. */
  async #refresh(view: ServiceView): Promise<void> {
    if (view.running) {
      view.again = true;
      return;
    }
    view.running = true;
    try {
      do {
        view.again = false;
        const generation = view.generation;
        let records: InstanceRecord[];
        let dead: Set<InstanceRecord>;
        try {
          records = await this.#read(view.service, view.watcher);
          dead = this.#dead(records);
        } catch (error) {
          if (this.#closed) return;
          // Asked again meanwhile (a reconnection, say): read again at once.
          if (view.again) continue;
          // Without a connection there is nothing to retry: reconnecting refreshes every view.
          if (!this.#connected()) return;
          this.#log.warn('zookeeper: could not read instances, retrying', {
            service: view.service,
            error: String(error),
          });
          clearTimeout(view.retryTimer);
          view.retryTimer = setTimeout(() => void this.#refresh(view), 1000);
          return;
        }
        if (this.#closed || this.#views.get(view.service) !== view) return;
        // One of our writes landed while reading: this read may predate it.
        if (generation !== view.generation) view.again = true;
        else this.#apply(view, records, dead);
      } while (view.again);
    } finally {
      view.running = false;
    }
  }

  /** Our own write, shown at once (read-your-writes); the watch-driven read confirms it. */
  writeThrough(service: string, change: (records: InstanceRecord[]) => InstanceRecord[]): void {
    const view = this.#views.get(service);
    if (!view?.loaded) return;
    view.generation++;
    this.#apply(view, change(view.all), view.dead);
    void this.#refresh(view);
  }

  /**
   * Every tick while something watches: the watched views' records of this
   * host whose process is gone leave at once, not when their session
   * expires. No ZooKeeper read: only the processes are checked.
   */
  #checkWatched(): void {
    let watched = false;
    for (const view of this.#views.values()) {
      if (view.listeners.size === 0) continue;
      watched = true;
      // Not loaded yet: its first read checks its records itself.
      if (view.loaded) this.#check(view);
    }
    if (!watched) {
      clearInterval(this.#checkTimer);
      this.#checkTimer = undefined;
    }
  }

  /** Works out again which of the view's records are dead; tells listeners when that changed. */
  #check(view: ServiceView): void {
    const dead = this.#dead(view.all);
    view.checkedAt = performance.now();
    if (dead.size === view.dead.size && [...dead].every((r) => view.dead.has(r))) return;
    this.#apply(view, view.all, dead);
  }

  #apply(view: ServiceView, all: InstanceRecord[], dead: Set<InstanceRecord>): void {
    view.all = all;
    view.dead = new Set(all.filter((r) => dead.has(r)));
    view.checkedAt = performance.now();
    const records = all.filter((r) => !dead.has(r));
    records.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    view.records = records;
    view.snapshot = JSON.stringify(records);
    if (!view.loaded) {
      view.loaded = true;
      view.resolveFirstLoad();
    }
    for (const listener of view.listeners) this.#deliver(view, listener);
  }

  #deliver(view: ServiceView, listener: Listener): void {
    if (this.#closed || !view.listeners.has(listener) || listener.last === view.snapshot) return;
    listener.last = view.snapshot;
    try {
      listener.fn(structuredClone(view.records));
    } catch (error) {
      this.#log.error('registry watcher failed', { service: view.service, error: String(error) });
    }
  }
}
