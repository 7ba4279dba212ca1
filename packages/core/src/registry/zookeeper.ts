import type * as Zk from 'node-zookeeper-client';
import type { BackendContext } from '../backends.js';
import { BackendError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { InstanceRecord, Registry, Unsubscribe } from './registry.js';
import {
  checkNodeName,
  isNodeName,
  parseZooKeeperUrl,
  ZooKeeperPaths,
  type ZooKeeperConfig,
} from '../zookeeper/config.js';
import { type ZkModule, ZooKeeperSession, zkCode } from '../zookeeper/session.js';
import { ServiceViews, type Watcher } from '../zookeeper/views.js';
import { writeEphemeral } from '../zookeeper/ephemeral.js';
import { DeadNodeReaper, type DeadNode } from '../zookeeper/reaper.js';
import { ClusterAuth } from '../security/auth.js';
import { recordKey, signRecord, verifyRecord } from '../zookeeper/signed.js';
import { deadProcesses, ownIdentity, type ProcessIdentity } from './liveness.js';

/** ZooKeeper refuses node data above 1 MiB. */
const MAX_RECORD_BYTES = 1024 * 1024 - 1024;

async function loadClient(): Promise<ZkModule> {
  const mod = (await import('node-zookeeper-client')) as ZkModule & { default?: ZkModule };
  return mod.default ?? mod;
}

/**
 * The `zookeeper://host:port[,host:port]/root` registry: each registered
 * instance is an ephemeral node `<root>/services/<Service>/<id>` holding its
 * JSON record, so an instance whose process dies vanishes when its session
 * times out. Lookups answer from a cache that children and data watches
 * keep current. A node of a process in this host's pid space (its node
 * says which: `pidSpace()` in liveness.ts) is left out as soon as that
 * process is gone: watched services are checked every 250 ms
 * (`LIVENESS_CHECK_MS`), others when looked up. Such a node is also
 * removed from ZooKeeper, once, if unchanged since read (`DeadNodeReaper`),
 * so that other hosts see the instance leave too, not at its session's
 * expiry. A session the server expired is replaced and every record this
 * client registered is written again.
 */
export class ZooKeeperRegistry implements Registry {
  readonly kind = 'zookeeper';
  readonly #paths: ZooKeeperPaths;
  readonly #config: ZooKeeperConfig;
  readonly #log: Logger;
  readonly #zk: ZkModule;
  #session!: ZooKeeperSession;
  /** what this client registered, by node path: written again on a new session */
  readonly #mine = new Map<string, InstanceRecord>();
  #views!: ServiceViews;
  /** nodes of ours that an unregister could not remove during an outage */
  readonly #toRemove = new Set<string>();
  readonly #badNodes = new Set<string>();
  /** signs the records written and checks those read (from the cluster secret) */
  readonly #key: Buffer;
  /** who may change the nodes created: the digest identity when the URL names one */
  readonly #acl: Zk.ACL[];
  /** this process, named in the nodes of the records it registers for itself */
  #own: ProcessIdentity | undefined;
  /** the process named in each record read, kept beside it: callers see records as registered */
  readonly #processes = new WeakMap<InstanceRecord, ProcessIdentity>();
  /** the node each record was read from, as read: what a removal of a dead one is conditional on */
  readonly #nodes = new WeakMap<InstanceRecord, Omit<DeadNode, 'process'>>();
  #reaper!: DeadNodeReaper;
  /**
   * Which records belong to processes of this host that are gone: left
   * out of what callers see, and their nodes removed from ZooKeeper (once
   * each), so that other hosts see them leave too, not at session expiry.
   */
  readonly #dead = (records: InstanceRecord[]): Set<InstanceRecord> => {
    const dead = deadProcesses(records, (r) => this.#processes.get(r));
    if (dead.size > 0) this.#reaper.reap(this.#deadNodes(dead));
    return dead;
  };
  #closed = false;
  /** restores under way (a new session writes our records again) */
  #restoring = 0;

  private constructor(zk: ZkModule, config: ZooKeeperConfig, log: Logger, key: Buffer) {
    this.#zk = zk;
    this.#config = config;
    this.#paths = new ZooKeeperPaths(config.root);
    this.#log = log;
    this.#key = key;
    this.#acl =
      config.digest === undefined
        ? [new zk.ACL(zk.Permission.ALL, new zk.Id('world', 'anyone'))]
        : [
            new zk.ACL(zk.Permission.ALL, new zk.Id('auth', '')),
            new zk.ACL(zk.Permission.READ, new zk.Id('world', 'anyone')),
          ];
  }

  /**
   * Connects to ZooKeeper. The cluster name of `ctx` is not used: the URL's
   * root path alone says where a cluster's nodes live.
   */
  static async connect(url: string, ctx: BackendContext): Promise<ZooKeeperRegistry> {
    const config = parseZooKeeperUrl(url);
    const zk = await loadClient();
    const log = ctx.log.child({ registry: 'zookeeper' });
    const auth = ctx.auth ?? new ClusterAuth({ cluster: ctx.cluster }, { log });
    const registry = new ZooKeeperRegistry(zk, config, log, recordKey(auth.secret()));
    registry.#own = await ownIdentity();
    registry.#reaper = new DeadNodeReaper({
      zk,
      session: () => registry.#session,
      log,
      ours: (path) => registry.#mine.has(path),
    });
    registry.#views = new ServiceViews({
      read: (service, watcher) => registry.#read(service, watcher),
      connected: () => registry.#session.connected,
      dead: registry.#dead,
      log,
      timeoutMs: config.timeoutMs,
      where: `ZooKeeper at ${config.connectString}`,
    });
    registry.#session = await ZooKeeperSession.open(zk, config, log, {
      onNewSession: () => void registry.#restore(),
      onReconnect: () => registry.#onReconnect(),
    });
    return registry;
  }

  /** How long this registry's session outlives a dead process, in milliseconds. */
  get sessionTimeoutMs(): number {
    return this.#config.sessionTimeoutMs;
  }

  /**
   * The current session's id and password. Tests use them to force a
   * session expiry (a second client takes the session over and closes it).
   */
  sessionCredentials(): { id: Buffer; password: Buffer } {
    return this.#session.credentials();
  }

  async register(record: InstanceRecord): Promise<void> {
    this.#assertOpen();
    checkNodeName('service name', record.service);
    checkNodeName('instance id', record.id);
    const text = JSON.stringify(record);
    // As others will read it back: fields set to undefined are gone.
    const copy = JSON.parse(text) as InstanceRecord;
    const data = this.#nodeData(copy);
    if (data.length > MAX_RECORD_BYTES)
      throw new BackendError(
        `the record of ${record.service}/${record.id} is ${data.length} bytes: ZooKeeper takes at most ${MAX_RECORD_BYTES}`,
      );
    const path = this.#paths.instance(record.service, record.id);
    // Remembered first: if the session expires during this write, the new session writes it.
    const previous = this.#mine.get(path);
    this.#mine.set(path, copy);
    this.#toRemove.delete(path);
    try {
      await writeEphemeral(this.#zk, this.#session, this.#acl, path, data);
    } catch (error) {
      if (this.#mine.get(path) === copy) {
        if (previous) this.#mine.set(path, previous);
        else this.#mine.delete(path);
      }
      throw error;
    }
    this.#views.writeThrough(record.service, (records) => [
      ...records.filter((r) => r.id !== record.id),
      copy,
    ]);
  }

  async unregister(service: string, id: string): Promise<void> {
    this.#assertOpen();
    if (!isNodeName(service) || !isNodeName(id)) return;
    const path = this.#paths.instance(service, id);
    this.#mine.delete(path);
    try {
      await this.#remove(path);
    } catch (error) {
      // Our node would otherwise stay as long as our session: removed once connected again.
      this.#toRemove.add(path);
      throw error;
    }
    this.#views.writeThrough(service, (records) => records.filter((r) => r.id !== id));
  }

  async lookup(service: string): Promise<InstanceRecord[]> {
    this.#assertOpen();
    if (!isNodeName(service)) return [];
    return this.#views.lookup(service);
  }

  async list(): Promise<InstanceRecord[]> {
    this.#assertOpen();
    const { Exception } = this.#zk;
    let services: string[];
    try {
      services = await this.#session.call<string[]>('getChildren', (c, done) =>
        c.getChildren(this.#paths.services, (e, children) => done(e, children)),
      );
    } catch (error) {
      if (zkCode(error) === Exception.NO_NODE) return [];
      throw error;
    }
    const all = (
      await Promise.all(
        services
          .filter(isNodeName)
          .map(async (service) => this.#views.cached(service) ?? this.#read(service, undefined)),
      )
    ).flat();
    const dead = this.#dead(all);
    return structuredClone(dead.size === 0 ? all : all.filter((r) => !dead.has(r)));
  }

  watch(service: string, onChange: (instances: InstanceRecord[]) => void): Unsubscribe {
    this.#assertOpen();
    checkNodeName('service name', service);
    return this.#views.watch(service, onChange);
  }

  /** Out of touch with ZooKeeper, or a new session has not put our records back yet. */
  unavailable(): string | undefined {
    if (this.#closed) return 'ZooKeeper registry closed';
    if (!this.#session.connected) return 'ZooKeeper session disconnected, reconnecting';
    if (this.#restoring > 0) return 'ZooKeeper session expired, registering again';
    return undefined;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#views.close();
    // A tool that looked once (`svc discover`) still removes the dead records it found.
    await this.#reaper.close();
    // Closing the session makes the server delete every ephemeral node of ours at once,
    // but not the service nodes made to hold them. What is still registered (the
    // subscriber of `svc subscribe`, under a service name of its own) is removed here,
    // with its service node once that holds nothing else: no empty node is left behind.
    if (this.#session.connected) {
      await Promise.allSettled([...this.#mine.keys()].map((path) => this.#removeWithParent(path)));
    }
    this.#mine.clear();
    this.#toRemove.clear();
    await this.#session.close();
  }

  /** Removes our node `path`, then its service node if no other instance is in it. */
  async #removeWithParent(path: string): Promise<void> {
    await this.#remove(path);
    const parent = path.slice(0, path.lastIndexOf('/'));
    try {
      // Without a version: the server refuses to remove a node that has children.
      await this.#session.call<void>('remove', (c, done) => c.remove(parent, (e) => done(e)));
    } catch (error) {
      const code = zkCode(error);
      const { NOT_EMPTY, NO_NODE } = this.#zk.Exception;
      if (code !== NOT_EMPTY && code !== NO_NODE) throw error;
    }
  }

  async #remove(path: string): Promise<void> {
    try {
      await this.#session.call<void>('remove', (c, done) => c.remove(path, (e) => done(e)));
    } catch (error) {
      if (zkCode(error) !== this.#zk.Exception.NO_NODE) throw error;
    }
  }

  /** The same session is back: removals that failed during the outage are done now. */
  #onReconnect(): void {
    this.#views.refreshAll();
    for (const path of [...this.#toRemove]) {
      this.#remove(path).then(
        () => this.#toRemove.delete(path),
        (error: unknown) =>
          this.#log.warn('zookeeper: could not unregister, will retry on reconnection', {
            path,
            error: String(error),
          }),
      );
    }
  }

  *#deadNodes(dead: Iterable<InstanceRecord>): Iterable<DeadNode> {
    for (const record of dead) {
      const node = this.#nodes.get(record);
      const process = this.#processes.get(record);
      if (node && process) yield { ...node, process };
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new BackendError('the ZooKeeper registry is closed');
  }

  /**
   * The signed node data of a record. One of this very process also names
   * it (`pidSpace`, `pidStart`), so that readers of its pid space see it
   * gone as soon as it dies; others are written as given, since their pid
   * may not be of this host.
   */
  #nodeData(record: InstanceRecord): Buffer {
    const own = this.#own;
    if (own === undefined || record.pid !== own.pid) return signRecord(this.#key, record);
    return signRecord(this.#key, { ...record, pidSpace: own.space, pidStart: own.start });
  }

  /** After a session expired: writes every record of ours again, retrying until it is in. */
  async #restore(): Promise<void> {
    // The expired session took its nodes with it, including those we meant to remove.
    this.#toRemove.clear();
    this.#views.refreshAll();
    let count = 0;
    this.#restoring++;
    try {
      for (const [path, record] of [...this.#mine]) {
        while (!this.#closed && this.#mine.get(path) === record) {
          try {
            await writeEphemeral(this.#zk, this.#session, this.#acl, path, this.#nodeData(record));
            count++;
            break;
          } catch (error) {
            this.#log.warn('zookeeper: could not register again, retrying', {
              path,
              error: String(error),
            });
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
      }
    } finally {
      this.#restoring--;
    }
    this.#log.info('zookeeper: registered again after the session expired', { instances: count });
  }

  /**
   * Reads one service's instances; with a watcher, also arms a children
   * watch on the service node (an existence watch while it does not exist)
   * and a data watch on each instance node.
   */
  async #read(service: string, watcher: Watcher | undefined): Promise<InstanceRecord[]> {
    const { Exception } = this.#zk;
    const path = this.#paths.service(service);
    const session = this.#session;
    let children: string[] | undefined;
    while (!children) {
      try {
        children = await session.call<string[]>('getChildren', (c, done) =>
          watcher
            ? c.getChildren(path, watcher, (e, ids) => done(e, ids))
            : c.getChildren(path, (e, ids) => done(e, ids)),
        );
      } catch (error) {
        if (zkCode(error) !== Exception.NO_NODE) throw error;
        if (!watcher) return [];
        const stat = await session.call<Zk.Stat | undefined>('exists', (c, done) =>
          c.exists(path, watcher, (e, s) => done(e, s ?? undefined)),
        );
        // Created between the two calls: read its children instead.
        if (!stat) return [];
      }
    }
    const records = await Promise.all(
      children.filter(isNodeName).map(async (id) => {
        const node = `${path}/${id}`;
        let data: Buffer | undefined;
        let stat: Zk.Stat | undefined;
        try {
          [data, stat] = await session.call<[Buffer | undefined, Zk.Stat | undefined]>(
            'getData',
            (c, done) =>
              watcher
                ? c.getData(node, watcher, (e, d, s) => done(e, [d ?? undefined, s ?? undefined]))
                : c.getData(node, (e, d, s) => done(e, [d ?? undefined, s ?? undefined])),
          );
        } catch (error) {
          // Gone since the children were read; the children watch tells us.
          if (zkCode(error) === Exception.NO_NODE) return undefined;
          throw error;
        }
        const read = verifyRecord(this.#key, data, service, id);
        if ('problem' in read) {
          if (!this.#badNodes.has(node)) {
            // Remembered so a bad node is logged once, not on every read; bounded.
            if (this.#badNodes.size > 1000) this.#badNodes.clear();
            this.#badNodes.add(node);
            this.#log.warn(`zookeeper: ignoring a node that ${read.problem}`, { node });
          }
          return undefined;
        }
        // The process it names is kept beside the record, not in it.
        const {
          pidSpace: space,
          pidStart: start,
          ...record
        } = read.record as InstanceRecord & Partial<Record<'pidSpace' | 'pidStart', unknown>>;
        if (typeof space === 'string' && typeof start === 'string')
          this.#processes.set(record, { pid: record.pid, space, start });
        if (stat)
          this.#nodes.set(record, {
            path: node,
            instance: `${service}/${id}`,
            version: stat.version,
            czxid: stat.czxid,
            owner: stat.ephemeralOwner,
          });
        return record;
      }),
    );
    return records.filter((r): r is InstanceRecord => r !== undefined);
  }
}
