import { randomBytes } from 'node:crypto';
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { lstat, mkdir, readFile, readdir, rename, unlink, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import type { BackendContext } from '../backends.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { parseJsonSafe } from '../serializers/json.js';
import { isProcessAlive, processStartTime } from './liveness.js';
import { asEntry, assertOwnDirectory, localRegistryDir, type Entry } from './local-files.js';
import type { InstanceRecord, Registry, Unsubscribe } from './registry.js';

interface Watcher {
  onChange: (records: InstanceRecord[]) => void;
  /** the last state told to the watcher; undefined = not told yet */
  last: string | undefined;
}

export interface LocalRegistryOptions {
  /** the cluster's directory itself (default: {@link localRegistryDir}) */
  dir?: string;
  /** how often watchers re-read the directory besides file-system notifications */
  pollMs?: number;
}

const TEMP_PREFIX = '.tmp-';
/** a temp file older than this was left by a writer that died mid-write */
const STALE_TEMP_MS = 60_000;

/** Watchers read every file again once in this many polls (a lost notification is fixed within it). */
const FULL_SCAN_EVERY = 10;

const fileName = (service: string, id: string) =>
  `${encodeURIComponent(service)}+${encodeURIComponent(id)}.json`;

/**
 * The `local` registry: one directory per user and cluster on this machine,
 * one JSON file per instance written atomically (temp file + rename).
 * Entries whose process is dead (SIGKILL, crash) are ignored and deleted by
 * whoever reads them; corrupt files are ignored. Watchers learn of changes
 * through `fs.watch` and a light poll, which also notices dead processes.
 */
export class LocalRegistry implements Registry {
  readonly kind = 'local';
  readonly dir: string;
  readonly #log: Logger;
  readonly #pollMs: number;
  /** file names of the records this client registered */
  readonly #mine = new Set<string>();
  readonly #watchers = new Map<string, Set<Watcher>>();
  readonly #warned = new Set<string>();
  #fsWatcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #scanTimer: NodeJS.Timeout | undefined;
  #scanning: Promise<void> | undefined;
  #rescan = false;
  #closed = false;
  /**
   * Watchers' copy of the directory: entries by file name, as last read.
   * A scan re-reads only the files `fs.watch` named since (a record is
   * replaced by a rename, which it reports), plus every file once every
   * {@link FULL_SCAN_EVERY} polls in case a notification was lost; it still
   * lists the directory and checks every live pid, to notice dead
   * processes. Reading every file on every poll cost a watching process
   * 7% of a core at 500 instances (bench/scale).
   */
  readonly #cache = new Map<string, Entry>();
  /** file names to read again; `true`: all of them */
  #dirty: Set<string> | true = true;
  #polls = 0;

  private constructor(dir: string, log: Logger, pollMs: number) {
    this.dir = dir;
    this.#log = log;
    this.#pollMs = pollMs;
  }

  /** Opens (creating if needed) the cluster's directory; refuses one owned by another user. */
  static async open(
    ctx: BackendContext,
    options: LocalRegistryOptions = {},
  ): Promise<LocalRegistry> {
    const dir = options.dir ?? localRegistryDir(ctx.cluster);
    try {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    } catch (err) {
      throw new ConfigError(`cannot create registry directory ${dir}: ${(err as Error).message}`, {
        cause: err,
      });
    }
    // In a shared temp directory another user could have made svc-<uid> first, to read or
    // replace our entries: both it and the cluster directory must be ours.
    for (const d of options.dir ? [dir] : [dirname(dir), dir]) await assertOwnDirectory(d);
    return new LocalRegistry(dir, ctx.log, options.pollMs ?? 500);
  }

  async register(record: InstanceRecord): Promise<void> {
    const name = fileName(record.service, record.id);
    const pidStart = await processStartTime(record.pid);
    const entry: Entry = {
      svcLocalRegistry: 1,
      host: hostname(),
      ...(pidStart === undefined ? {} : { pidStart }),
      record,
    };
    const temp = join(this.dir, `${TEMP_PREFIX}${randomBytes(6).toString('hex')}`);
    const text = JSON.stringify(entry);
    try {
      await writeFile(temp, text, { mode: 0o600 });
    } catch (err) {
      // The directory was removed under us (a cleaned-up temp or runtime dir): make it again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(this.dir, { recursive: true, mode: 0o700 });
      await writeFile(temp, text, { mode: 0o600 });
    }
    try {
      await rename(temp, join(this.dir, name));
    } catch (err) {
      await unlink(temp).catch(() => {});
      throw err;
    }
    this.#mine.add(name);
    this.#scheduleScan();
  }

  async unregister(service: string, id: string): Promise<void> {
    const name = fileName(service, id);
    this.#mine.delete(name);
    await this.#remove(name);
    this.#scheduleScan();
  }

  lookup(service: string): Promise<InstanceRecord[]> {
    return this.#read(`${encodeURIComponent(service)}+`, service);
  }

  list(): Promise<InstanceRecord[]> {
    return this.#read('', undefined);
  }

  watch(service: string, onChange: (instances: InstanceRecord[]) => void): Unsubscribe {
    const watcher: Watcher = { onChange, last: undefined };
    let set = this.#watchers.get(service);
    if (!set) this.#watchers.set(service, (set = new Set()));
    set.add(watcher);
    this.#startWatching();
    this.#scheduleScan();
    return () => {
      const current = this.#watchers.get(service);
      current?.delete(watcher);
      if (current?.size === 0) this.#watchers.delete(service);
      if (this.#watchers.size === 0) this.#stopWatching();
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watchers.clear();
    this.#stopWatching();
    const mine = [...this.#mine];
    this.#mine.clear();
    await Promise.allSettled(mine.map((name) => this.#remove(name)));
  }

  async #remove(name: string): Promise<void> {
    try {
      await unlink(join(this.dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }

  /** Every live record, for watchers: files unchanged since the last scan are not read again. */
  #readWatched(): Promise<InstanceRecord[]> {
    // Without notifications every file may have changed.
    const dirty = this.#fsWatcher ? this.#dirty : true;
    this.#dirty = new Set();
    return this.#read('', undefined, async (name) => {
      const cached = this.#cache.get(name);
      if (cached && dirty !== true && !dirty.has(name)) return cached;
      const entry = await this.#readEntry(name);
      if (entry) this.#cache.set(name, entry);
      else this.#cache.delete(name);
      return entry;
    });
  }

  /** Live records whose file name starts with `prefix` (and whose service is `service`, if given). */
  async #read(
    prefix: string,
    service: string | undefined,
    readEntry: (name: string) => Promise<Entry | undefined> = (name) => this.#readEntry(name),
  ): Promise<InstanceRecord[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
    if (this.#cache.size > 0) {
      const present = new Set(names);
      for (const name of this.#cache.keys()) if (!present.has(name)) this.#cache.delete(name);
    }
    const alive = new Map<string, Promise<boolean>>();
    const results = await Promise.all(
      names.map(async (name): Promise<InstanceRecord | undefined> => {
        if (name.startsWith(TEMP_PREFIX)) {
          await this.#dropStaleTemp(name);
          return undefined;
        }
        if (!name.endsWith('.json') || !name.startsWith(prefix)) return undefined;
        const entry = await readEntry(name);
        if (!entry || (service !== undefined && entry.record.service !== service)) return undefined;
        if (entry.host === hostname()) {
          const key = `${entry.record.pid}:${entry.pidStart ?? ''}`;
          let check = alive.get(key);
          if (!check) alive.set(key, (check = isProcessAlive(entry.record.pid, entry.pidStart)));
          if (!(await check)) {
            this.#log.debug('removing the registry entry of a dead process', {
              file: name,
              service: entry.record.service,
              pid: entry.record.pid,
            });
            await this.#remove(name).catch(() => {});
            return undefined;
          }
        }
        return entry.record;
      }),
    );
    return results
      .filter((r): r is InstanceRecord => r !== undefined)
      .sort((a, b) => (a.service === b.service ? cmp(a.id, b.id) : cmp(a.service, b.service)));
  }

  async #readEntry(name: string): Promise<Entry | undefined> {
    let text: string;
    try {
      text = await readFile(join(this.dir, name), 'utf8');
    } catch {
      // Removed between readdir and read, or unreadable: either way not a live entry.
      return undefined;
    }
    let parsed: unknown;
    try {
      parsed = parseJsonSafe(text);
    } catch {
      parsed = undefined;
    }
    const entry = asEntry(parsed);
    if (!entry && !this.#warned.has(name)) {
      if (this.#warned.size < 1000) this.#warned.add(name);
      this.#log.warn('ignoring a corrupt local registry file', { file: join(this.dir, name) });
    }
    return entry;
  }

  async #dropStaleTemp(name: string): Promise<void> {
    try {
      const st = await lstat(join(this.dir, name));
      if (Date.now() - st.mtimeMs > STALE_TEMP_MS) await this.#remove(name);
    } catch {
      // Renamed or removed meanwhile.
    }
  }

  #startWatching(): void {
    if (this.#closed) return;
    if (!this.#fsWatcher) {
      try {
        this.#fsWatcher = fsWatch(this.dir, { persistent: false }, (_event, name) => {
          if (this.#dirty !== true) {
            if (typeof name === 'string' && this.#dirty.size < 10_000) this.#dirty.add(name);
            else this.#dirty = true;
          }
          this.#scheduleScan();
        });
        this.#fsWatcher.on('error', () => {
          // The poll below keeps watchers current without notifications.
          this.#fsWatcher?.close();
          this.#fsWatcher = undefined;
          this.#dirty = true;
        });
      } catch {
        this.#fsWatcher = undefined;
      }
    }
    if (!this.#poll) {
      this.#poll = setInterval(() => {
        if (++this.#polls % FULL_SCAN_EVERY === 0) this.#dirty = true;
        this.#scheduleScan();
      }, this.#pollMs);
      this.#poll.unref();
    }
  }

  #stopWatching(): void {
    this.#fsWatcher?.close();
    this.#fsWatcher = undefined;
    clearInterval(this.#poll);
    this.#poll = undefined;
    clearTimeout(this.#scanTimer);
    this.#scanTimer = undefined;
    this.#cache.clear();
    this.#dirty = true;
  }

  /** Coalesces bursts of notifications into one directory read. */
  #scheduleScan(): void {
    if (this.#scanTimer || this.#watchers.size === 0) return;
    this.#scanTimer = setTimeout(() => {
      this.#scanTimer = undefined;
      void this.#scan();
    }, 15);
    this.#scanTimer.unref();
  }

  async #scan(): Promise<void> {
    if (this.#scanning) {
      this.#rescan = true;
      return;
    }
    this.#scanning = (async () => {
      do {
        this.#rescan = false;
        let records: InstanceRecord[];
        try {
          records = await this.#readWatched();
        } catch (err) {
          this.#log.warn('cannot read the local registry directory', {
            dir: this.dir,
            error: (err as Error).message,
          });
          return;
        }
        for (const [service, set] of this.#watchers) {
          const mineNow = records.filter((r) => r.service === service);
          const state = JSON.stringify(mineNow);
          for (const watcher of set) {
            if (watcher.last === state) continue;
            watcher.last = state;
            try {
              watcher.onChange(structuredClone(mineNow));
            } catch (err) {
              this.#log.error('a registry watcher threw', {
                service,
                error: (err as Error).message,
              });
            }
          }
        }
      } while (this.#rescan && this.#watchers.size > 0);
    })();
    try {
      await this.#scanning;
    } finally {
      this.#scanning = undefined;
    }
  }
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
