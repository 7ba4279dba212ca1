import type * as Zk from 'node-zookeeper-client';
import type { Logger } from '../log/logger.js';
import { deathOf, pidSpace, type ProcessIdentity } from '../registry/liveness.js';
import { type ZkModule, type ZooKeeperSession, zkCode } from './session.js';

// Removing the nodes of instances whose process, on this host, is proven
// gone. Their ephemeral nodes would otherwise stay until their session
// expires, and only readers of this host (which check /proc) would know
// better: once removed, every host's watchers see the instance leave.

/** A node as read, with the process its record names. */
export interface DeadNode {
  path: string;
  /** what the record names: `Service/id` */
  instance: string;
  /** the process the record names; {@link DeadNodeReaper.reap} checks it is gone */
  process: ProcessIdentity;
  /** the node's data version and creation zxid, as read: the removal is conditional on both */
  version: number;
  czxid: Buffer;
  /** the session the node belongs to */
  owner: Buffer;
}

/** Removals running at once, at most; more wait for a later read (the records stay hidden here). */
const MAX_IN_FLIGHT = 64;
/** Nodes remembered as tried, so each is removed once, not on every read; the oldest are forgotten. */
const MAX_TRIED = 4096;
/** Up to this many instances removed together, one line each; more, one line for all. */
const LINES_PER_BURST = 5;

/**
 * Removes the nodes of dead processes of this host, once each. A node is
 * removed only if it is still the one read (same creation zxid) and
 * unchanged since (ZooKeeper's conditional delete on its version): a
 * record written again meanwhile, by a restart that reuses the id or a
 * session put back, stays. Failures are logged, never thrown.
 */
export class DeadNodeReaper {
  readonly #zk: ZkModule;
  readonly #session: () => ZooKeeperSession;
  readonly #log: Logger;
  readonly #ours: (path: string) => boolean;
  /** keys of nodes tried (path, czxid, version), oldest first */
  readonly #tried = new Set<string>();
  readonly #running = new Set<Promise<void>>();
  #inFlight = 0;
  /** error codes already warned of: each is logged at WARN once, then at DEBUG */
  readonly #warned = new Set<string>();
  #closed = false;

  constructor(options: {
    zk: ZkModule;
    session: () => ZooKeeperSession;
    log: Logger;
    /** whether a node is one this client registered: never removed here */
    ours: (path: string) => boolean;
  }) {
    this.#zk = options.zk;
    this.#session = options.session;
    this.#log = options.log;
    this.#ours = options.ours;
  }

  /** Removes those of `nodes` whose process is gone and that were not tried yet; returns at once. */
  reap(nodes: Iterable<DeadNode>): void {
    if (this.#closed) return;
    const batch: { node: DeadNode; why: string }[] = [];
    for (const node of nodes) {
      if (this.#inFlight + batch.length >= MAX_IN_FLIGHT) break;
      const key = `${node.path}@${node.czxid.toString('hex')}:${node.version}`;
      if (this.#tried.has(key)) continue;
      // Never our own: not a node we registered, nor one of our session, nor our process's.
      if (this.#ours(node.path) || node.process.pid === process.pid) continue;
      if (node.owner.equals(this.#session().sessionId())) continue;
      // Only a process of this pid space can be proven gone from here.
      if (node.process.space !== pidSpace()) continue;
      const why = deathOf(node.process.pid, node.process.start);
      if (why === undefined) continue;
      this.#tried.add(key);
      if (this.#tried.size > MAX_TRIED) this.#tried.delete(this.#tried.values().next().value!);
      batch.push({ node, why });
    }
    if (batch.length === 0) return;
    this.#inFlight += batch.length;
    const run = this.#removeAll(batch).finally(() => {
      this.#inFlight -= batch.length;
      this.#running.delete(run);
    });
    this.#running.add(run);
  }

  /** Waits for the removals under way (a short-lived tool closing its registry). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#running]);
  }

  async #removeAll(batch: { node: DeadNode; why: string }[]): Promise<void> {
    const removed = (
      await Promise.all(
        batch.map(async (item) => ((await this.#remove(item.node)) ? item : undefined)),
      )
    ).filter((item) => item !== undefined);
    if (removed.length === 0) return;
    if (removed.length <= LINES_PER_BURST) {
      for (const { node, why } of removed)
        this.#log.info(
          `zookeeper: removed the record of instance ${node.instance} (pid ${node.process.pid}, ${why})`,
          { node: node.path },
        );
      return;
    }
    this.#log.info(
      `zookeeper: removed the records of ${removed.length} instances whose processes on this host are gone`,
      { instances: removed.map(({ node }) => node.instance) },
    );
  }

  /** Whether the node was removed; NONODE and BADVERSION (changed since read) say no, quietly. */
  async #remove(node: DeadNode): Promise<boolean> {
    const { NO_NODE, BAD_VERSION } = this.#zk.Exception;
    const session = this.#session();
    try {
      // The version alone would not tell a node made again under the same path (version 0
      // again) from the one read: its creation zxid does.
      const stat = await session.call<Zk.Stat | undefined>('exists', (c, done) =>
        c.exists(node.path, (e, s) => done(e, s ?? undefined)),
      );
      if (!stat || !stat.czxid.equals(node.czxid) || stat.version !== node.version) return false;
      await session.call<void>('remove', (c, done) =>
        c.remove(node.path, node.version, (e) => done(e)),
      );
      return true;
    } catch (error) {
      const code = zkCode(error);
      if (code === NO_NODE || code === BAD_VERSION) return false;
      const kind = String(code ?? 'other');
      const first = !this.#warned.has(kind);
      this.#warned.add(kind);
      this.#log[first ? 'warn' : 'debug'](
        'zookeeper: could not remove the record of an instance whose process is gone; it stays until its session expires',
        { node: node.path, error: String(error) },
      );
      return false;
    }
  }
}
