import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { SUBSCRIBED_LINE } from './connect.js';
import {
  RecordLogger,
  type ClusterAuth,
  type Instance,
  type InstanceExtension,
  type LogRecord,
  type LogSink,
} from '@svc/core';
import {
  RefusedPeers,
  parseJsonSafe,
  pskOf,
  safeJson,
  tlsServerOptions,
  withHost,
} from '@svc/core/internal';

/** Longest request line a subscriber may send (`{"op":"metrics"}`); a longer one closes it. */
const MAX_REQUEST_BYTES = 4096;

export interface LogStreamOptions {
  /** address to bind (default: the instance's `bind_host`, else 127.0.0.1) */
  host?: string;
  /** the handshake subscribers pass (default: the instance's, from its cluster's secret) */
  auth?: ClusterAuth;
  /**
   * serve over TLS-PSK keyed by the cluster secret, as RPC does (endpoint
   * `tls://`); default: the instance's `rpc_tls`
   */
  tls?: boolean;
  /** bytes queued for one slow subscriber before its records are dropped (default 1 MiB) */
  maxQueuedBytes?: number;
  /** a record whose JSON line is longer is cut down to its standard fields (default 64 KiB) */
  maxRecordBytes?: number;
  /**
   * bytes of replies queued for a subscriber that does not read them before
   * it is dropped (default 32 MiB); past `maxQueuedBytes` its requests are
   * no longer read until it reads
   */
  maxRepliesQueuedBytes?: number;
}

/**
 * The log stream of one instance: a TCP server on 127.0.0.1 (port chosen
 * by the system) that sends every record to every connected subscriber as
 * one JSON object a line. Plain TCP rather than a ZeroMQ PUB socket: it
 * needs no native module and lets the stream see each subscriber's queue,
 * so a slow or stalled one loses records instead of growing the instance's
 * memory. With no subscriber a record costs one size check. A subscriber
 * may also send `{"op":"metrics","id":1}` or `{"op":"recent_logs","id":1,
 * "traceId":"..."}` (one JSON line) and gets `{"op":"reply","id":1,
 * "result":...}` among the records: how `svc top` and `svc tail --trace`
 * reach one given instance when RPC goes through a broker.
 *
 * With the instance's `rpc_tls` on, it is served over the same TLS-PSK as
 * RPC (endpoint `tls://host:port`) and the handshake runs inside TLS: log
 * records carry arguments and errors, so they are not sent in clear where
 * the calls themselves are not.
 *
 * It is a {@link LogSink} (the instance's logger writes to it) and an
 * {@link InstanceExtension} (the instance starts it and registers its
 * address as the `logs` endpoint).
 */
export class LogStream implements LogSink, InstanceExtension {
  readonly #clients = new Set<Socket>();
  /** connections still in the handshake (closed by stop too, or its server.close would wait for them) */
  readonly #handshaking = new Set<Socket>();
  readonly #maxQueued: number;
  readonly #maxRecord: number;
  readonly #maxRepliesQueued: number;
  readonly #host: string | undefined;
  readonly #tls: boolean | undefined;
  #auth: ClusterAuth | undefined;
  #instance: Instance | undefined;
  #server: Server | undefined;
  /** over TLS: every TCP connection, those still in the TLS handshake included (stop closes them) */
  readonly #raw = new Set<Socket>();
  #refused: RefusedPeers | undefined;
  /** records not sent to a subscriber because its queue was full */
  dropped = 0;

  constructor(options: LogStreamOptions = {}) {
    this.#host = options.host;
    this.#auth = options.auth;
    this.#tls = options.tls;
    this.#maxQueued = options.maxQueuedBytes ?? 1024 * 1024;
    this.#maxRecord = options.maxRecordBytes ?? 64 * 1024;
    this.#maxRepliesQueued = options.maxRepliesQueuedBytes ?? 32 * 1024 * 1024;
  }

  /** Peers whose TLS handshake failed (no cluster key, or not TLS at all). */
  get tlsRefused(): number {
    return this.#refused?.count ?? 0;
  }

  /** Number of connected subscribers. */
  get subscribers(): number {
    return this.#clients.size;
  }

  write(record: LogRecord, json?: string): void {
    if (this.#clients.size === 0) return;
    this.#send(json ?? safeJson(record), () => record);
  }

  callLine(line: string, record: () => LogRecord): void {
    if (this.#clients.size === 0) return;
    this.#send(line, record);
  }

  #send(json: string, record: () => LogRecord): void {
    try {
      const line = this.#encode(json, record);
      for (const socket of this.#clients) {
        if (socket.writableLength > this.#maxQueued) {
          this.dropped++;
          continue;
        }
        socket.write(line);
      }
    } catch {
      // Logging must never fail the code that logs; a broken socket is dropped by its error handler.
    }
  }

  #encode(line: string, record: () => LogRecord): string {
    if (line.length <= this.#maxRecord) return `${line}\n`;
    const { time, level, msg, service, instance, traceId } = record();
    return `${safeJson({
      time,
      level,
      msg: `${msg.slice(0, 2000)}… (record of ${line.length} bytes cut)`,
      service,
      instance,
      traceId,
    })}\n`;
  }

  async start(instance?: Instance): Promise<Record<string, string>> {
    this.#instance = instance;
    const host = this.#host ?? instance?.config.bindHost ?? '127.0.0.1';
    this.#auth ??= instance?.auth;
    if (!this.#auth)
      throw new Error('a log stream needs its instance or options.auth (its cluster secret)');
    const secure = this.#tls ?? instance?.config.rpcTls ?? false;
    const server = secure
      ? this.#tlsServer(this.#auth, instance)
      : createServer((socket) => this.#accept(socket));
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port: 0 }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', () => {
      // Accept errors (too many open files) only cost that subscriber.
    });
    const address = server.address();
    if (address === null || typeof address === 'string') throw new Error('log stream has no port');
    const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const logs = `${secure ? 'tls' : 'tcp'}://${shown}:${address.port}`;
    // Published where other hosts reach it (advertise_host), unless this stream was given its own host.
    const advertise = this.#host === undefined ? instance?.config.advertiseHost : undefined;
    return { logs: advertise === undefined ? logs : withHost(logs, advertise) };
  }

  /**
   * A TLS-PSK server with RPC's key and options: a connection reaches
   * #accept (and the cluster handshake) only once its TLS handshake proved
   * the key; one that fails it is counted and logged (summarised) as RPC's are.
   */
  #tlsServer(auth: ClusterAuth, instance: Instance | undefined): Server {
    const refused = new RefusedPeers(instance?.log ?? new RecordLogger([], {}), {
      one: 'a log stream subscriber',
      many: 'log stream subscribers',
    });
    this.#refused = refused;
    return createTlsServer(tlsServerOptions(pskOf(auth.secret(), auth.cluster)), (socket) =>
      this.#accept(socket),
    )
      .on('connection', (raw: Socket) => {
        this.#raw.add(raw);
        raw.once('close', () => this.#raw.delete(raw));
      })
      .on('tlsClientError', (err, socket) =>
        refused.refused(`${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`, err),
      );
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const auth = this.#auth;
    if (!auth) {
      socket.destroy();
      return;
    }
    // Nothing is sent to, or read from, a subscriber before it proves it belongs to the cluster.
    socket.on('error', () => socket.destroy());
    this.#handshaking.add(socket);
    socket.once('close', () => this.#handshaking.delete(socket));
    auth.accept(socket, 'logs', (rest) => {
      this.#handshaking.delete(socket);
      this.#subscribe(socket, rest);
    });
  }

  #subscribe(socket: Socket, rest: Buffer): void {
    this.#clients.add(socket);
    // Records from here on reach it; this line tells the subscriber so. Its proof was the
    // handshake's last message, so until now it could not know when that moment was.
    socket.write(SUBSCRIBED_LINE);
    // A subscriber may ask for the instance's metrics or recent records, one JSON line each
    // (what top and tail --trace use when the RPC transport cannot address one instance).
    let pending = rest.toString('utf8');
    socket.setEncoding('utf8');
    const onData = (chunk: string) => {
      pending += chunk;
      let nl: number;
      while (!socket.destroyed && (nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl);
        pending = pending.slice(nl + 1);
        this.#answer(socket, line);
      }
      if (pending.length > MAX_REQUEST_BYTES) socket.destroy();
    };
    socket.on('data', onData);
    // Requests are read again once the subscriber has read what was queued for it.
    socket.on('drain', () => socket.resume());
    socket.on('close', () => this.#clients.delete(socket));
    if (pending.length > 0) onData('');
  }

  #answer(socket: Socket, line: string): void {
    let request: unknown;
    try {
      request = parseJsonSafe(line);
    } catch {
      return;
    }
    if (typeof request !== 'object' || request === null) return;
    const { op, id, traceId, limit } = request as Record<string, unknown>;
    const instance = this.#instance;
    if (!instance || (typeof id !== 'number' && typeof id !== 'string')) return;
    let result: unknown;
    if (op === 'metrics') result = { instance: instance.id, ...instance.metrics.snapshot() };
    else if (op === 'recent_logs')
      result = instance.ring.recent({
        ...(typeof traceId === 'string' ? { traceId } : {}),
        ...(typeof limit === 'number' && limit > 0 ? { limit } : {}),
      });
    else result = { error: `unknown op` };
    try {
      socket.write(`${safeJson({ op: 'reply', id, result })}\n`);
    } catch {
      socket.destroy();
      return;
    }
    // A subscriber that asks and never reads: its requests stop being read once its
    // replies back up, and it is dropped past the limit (400 recent_logs requests,
    // 30 KB sent, had taken an instance from 64 to 516 MB).
    const queued = socket.writableLength;
    if (queued > this.#maxQueued) socket.pause();
    if (queued > this.#maxRepliesQueued) {
      instance.log.warn('log stream subscriber does not read its replies: dropping it', {
        source: `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`,
        queuedBytes: queued,
        limit: this.#maxRepliesQueued,
      });
      socket.destroy();
    }
  }

  async stop(): Promise<void> {
    for (const socket of [...this.#clients, ...this.#handshaking, ...this.#raw]) socket.destroy();
    this.#clients.clear();
    this.#handshaking.clear();
    this.#raw.clear();
    this.#refused?.close();
    const server = this.#server;
    this.#server = undefined;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

/**
 * The log stream `svc instance` gives every instance: pass it both as a
 * sink and as an extension.
 *
 *   const logs = createLogStream();
 *   new Instance({ config, sinks: [terminalSink(), logs], extensions: [logs] });
 */
export function createLogStream(options: LogStreamOptions = {}): LogStream {
  return new LogStream(options);
}
