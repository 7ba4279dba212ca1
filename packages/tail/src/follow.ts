import type { Socket } from 'node:net';
import type { ClusterAuth, InstanceRecord, LogRecord, Registry } from '@svc/core';
import { SUBSCRIBED_LINE, connectLogStream, parseLogEndpoint } from './connect.js';
import { LineDecoder } from './records.js';

export { parseTcpEndpoint } from './connect.js';

/** The instance a record came from, as the registry describes it. */
export interface LogSource {
  instance: string;
  /** services the instance runs */
  services: string[];
  /** `tcp://host:port` (`tls://` when the stream is served over TLS) */
  endpoint: string;
  pid: number;
}

export interface FollowOptions {
  /** where instances are listed (a registry, or a view of one that another reader keeps fresh) */
  registry: Pick<Registry, 'list'>;
  /** the handshake that proves to each instance's stream that this reader belongs to the cluster */
  auth: ClusterAuth;
  /** services to follow; empty: every service */
  services: readonly string[];
  onRecord(record: LogRecord, source: LogSource): void;
  /** called once a connection to an instance's stream is open */
  onJoin?(source: LogSource): void;
  /** called when an instance's stream closes or it leaves the registry */
  onLeave?(source: LogSource): void;
  /** how often the registry is read, ms (default 400: new instances show within a second) */
  pollMs?: number;
}

/** How long a stream without the subscribed line (an older instance's) waits to count as joined. */
const OLD_STREAM_JOIN_MS = 1000;

interface Link {
  source: LogSource;
  socket: Socket;
  open: boolean;
}

/**
 * Follows the log streams of a cluster's instances: reads the registry
 * every `pollMs`, connects to the `logs` endpoint of every instance of the
 * wanted services, and lets go of instances that leave. A stream that
 * fails or sends garbage is dropped without a word; the next registry read
 * reconnects to it if the instance is still listed.
 */
export class LogFollower {
  readonly #options: FollowOptions;
  readonly #links = new Map<string, Link>();
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #polling: Promise<void> | undefined;
  /** the connections the last registry read started, until each is open or has failed */
  #opening: Promise<unknown> = Promise.resolve();
  /** lines that were not log records */
  bad = 0;

  constructor(options: FollowOptions) {
    this.#options = options;
  }

  /** Reads the registry once and waits for the first connections to open, then keeps polling. */
  async start(): Promise<void> {
    await this.poll();
    await this.#opening;
    this.#timer = setInterval(() => void this.poll(), this.#options.pollMs ?? 400);
  }

  /** Instances whose stream is open. */
  get sources(): LogSource[] {
    return [...this.#links.values()].filter((l) => l.open).map((l) => l.source);
  }

  /**
   * One registry read: starts connecting to new instances, drops vanished
   * ones. It does not wait for the connections: one whose handshake stalls
   * (up to its timeout) held every later read up, and with it instances
   * that joined meanwhile, whose records were missed until then.
   */
  poll(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => (this.#polling = undefined));
    return this.#polling;
  }

  async #poll(): Promise<void> {
    let records: InstanceRecord[];
    try {
      records = await this.#options.registry.list();
    } catch {
      return; // a registry hiccup: try again next time
    }
    if (this.#closed) return;
    const wanted = new Set(this.#options.services);
    const found = new Map<string, LogSource>();
    for (const r of records) {
      if (r.service.startsWith('svc-cli-')) continue;
      if (wanted.size > 0 && !wanted.has(r.service)) continue;
      const endpoint = r.endpoints['logs'];
      if (typeof endpoint !== 'string' || !parseLogEndpoint(endpoint)) continue;
      const seen = found.get(endpoint);
      if (seen) {
        if (!seen.services.includes(r.service)) seen.services.push(r.service);
      } else {
        found.set(endpoint, { instance: r.id, services: [r.service], endpoint, pid: r.pid });
      }
    }
    for (const [endpoint, link] of this.#links) {
      if (!found.has(endpoint)) this.#drop(endpoint, link);
    }
    const opening: Promise<void>[] = [];
    for (const [endpoint, source] of found) {
      const link = this.#links.get(endpoint);
      if (link) link.source.services = source.services;
      else opening.push(this.#open(source));
    }
    this.#opening = Promise.all(opening);
  }

  #open(source: LogSource): Promise<void> {
    let socket: Socket;
    try {
      socket = connectLogStream(this.#options.auth, source.endpoint);
    } catch {
      // No secret to key TLS with: the auth handshake would fail the same way; try next poll.
      return Promise.resolve();
    }
    const link: Link = { source, socket, open: false };
    this.#links.set(source.endpoint, link);
    const decoder = new LineDecoder((record) => {
      if (record.service === undefined && source.services.length === 1)
        record.service = source.services[0];
      record.instance ??= source.instance;
      try {
        this.#options.onRecord(record, source);
      } catch {
        // A failing consumer must not stop the other streams.
      }
    });
    return new Promise<void>((resolve) => {
      // Joined once the instance says it counts this reader among its subscribers (its first
      // line): records it writes from then on come here. The handshake's end is not that
      // moment, as the instance reads this side's proof after this side has sent it.
      let head = '';
      let joinTimer: NodeJS.Timeout | undefined;
      const join = () => {
        clearTimeout(joinTimer);
        if (link.open || this.#links.get(source.endpoint) !== link) return;
        link.open = true;
        this.#options.onJoin?.(source);
        resolve();
      };
      const onData = (chunk: string) => {
        if (!link.open) {
          head += chunk;
          if (head.length < SUBSCRIBED_LINE.length && SUBSCRIBED_LINE.startsWith(head)) return;
          // An instance of an svc before this line sends records straight away.
          chunk = head.startsWith(SUBSCRIBED_LINE) ? head.slice(SUBSCRIBED_LINE.length) : head;
          head = '';
          join();
        }
        if (!decoder.push(chunk)) socket.destroy();
        this.bad = decoder.bad;
      };
      this.#options.auth.connect(socket, source.endpoint, {
        ready: (rest) => {
          socket.setEncoding('utf8');
          socket.on('data', onData);
          // ...nor one that has nothing to say: it is joined after a second without a line.
          joinTimer = setTimeout(join, OLD_STREAM_JOIN_MS);
          joinTimer.unref();
          if (rest.length > 0) onData(rest.toString('utf8'));
        },
        // The close that follows drops the link; the next poll tries again.
        failed: () => resolve(),
      });
      socket.on('error', () => socket.destroy());
      socket.on('close', () => {
        clearTimeout(joinTimer);
        resolve();
        if (this.#links.get(source.endpoint) === link) this.#drop(source.endpoint, link);
      });
    });
  }

  #drop(endpoint: string, link: Link): void {
    this.#links.delete(endpoint);
    link.socket.destroy();
    if (link.open) this.#options.onLeave?.(link.source);
    link.open = false;
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#polling;
    for (const [endpoint, link] of this.#links) this.#drop(endpoint, link);
  }
}
