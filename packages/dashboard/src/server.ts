import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ClusterClient, LogLevel, LogRecord } from '@svc/core';
import { SvcError, UsageError } from '@svc/core';
import { safeJson } from '@svc/core/internal';
import { makeFilter, traceHistory } from '@svc/tail';
import { loadAssets, type Asset } from './assets.js';
import { RequestError, readJsonBody, sendAsset, sendError, sendJson } from './body.js';
import { ClusterView, type ClusterSnapshot, type MetricsPoint } from './cluster.js';
import { callMethod, debugInstance, emitEvent } from './explorer.js';
import { checkRequest, newToken } from './guard.js';
import { LogHub, mergeRecords } from './logs.js';
import { SseStream } from './sse.js';
import { buildTrace, limitTrace } from './traces.js';
import type { ServiceDetail, TraceAnswer } from './wire.js';

/** The port `svc dashboard` listens on unless told otherwise. */
export const DEFAULT_PORT = 4090;

export interface DashboardOptions {
  client: ClusterClient;
  /** the cluster's name, shown on the page */
  cluster: string;
  /** TCP port on 127.0.0.1 (default {@link DEFAULT_PORT}; 0: any free one) */
  port?: number;
  /** the `.svc.yml` of the `svc node` whose processes the node view shows */
  nodeConfig?: string;
  /** the access token (default: a new random one) */
  token?: string;
  /** time between readings of the cluster, ms (default 1000) */
  intervalMs?: number;
  /** largest request body, bytes (default 256 KiB) */
  maxBodyBytes?: number;
  /** bytes a browser's stream may hold unsent before that browser is dropped (default 2 MiB) */
  maxQueuedBytes?: number;
  /** most live streams (pages) at once (default 32) */
  maxStreams?: number;
  /** where the built front end is (default: this package's `dist/web`) */
  webDir?: string;
  /** most steps a trace's answer holds, the first in depth-first order (default 2000) */
  maxTraceSpans?: number;
  /** most log records a trace's answer holds in all (default 10,000) */
  maxTraceRecords?: number;
}

/** A running dashboard. */
export interface Dashboard extends AsyncDisposable {
  /** the address to open, with the token in its fragment */
  url: string;
  port: number;
  token: string;
  view: ClusterView;
  logs: LogHub;
  close(): Promise<void>;
}

const TRACE_ID = /^[0-9a-zA-Z_-]{6,128}$/;
const FULL_TRACE = 32;

/**
 * Starts the dashboard: reads the cluster (registry, metrics, the node,
 * every instance's log stream) once for all pages, and serves the front
 * end and its API on 127.0.0.1. Every request must name this server in
 * `Host` and come from its own page (`Origin`); every API request must
 * carry the token.
 */
export async function startDashboard(options: DashboardOptions): Promise<Dashboard> {
  const assets = loadAssets(options.webDir);
  const token = options.token ?? newToken();
  const intervalMs = options.intervalMs ?? 1000;
  const view = new ClusterView({
    client: options.client,
    cluster: options.cluster,
    intervalMs,
    ...(options.nodeConfig === undefined ? {} : { nodeConfig: options.nodeConfig }),
  });
  const logs = new LogHub({ auth: options.client.auth, list: view.list, pollMs: intervalMs });
  const limits = {
    body: options.maxBodyBytes ?? 256 * 1024,
    queued: options.maxQueuedBytes ?? 2 * 1024 * 1024,
    streams: options.maxStreams ?? 32,
    traceSpans: options.maxTraceSpans ?? 2000,
    traceRecords: options.maxTraceRecords ?? 10_000,
  };
  const app = new App(options.client, view, logs, assets, limits);
  const server = createServer((req, res) => void app.handle(req, res, port, token));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  server.maxConnections = 256;
  let port = 0;
  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) =>
      reject(
        err.code === 'EADDRINUSE'
          ? new UsageError(
              `port ${options.port ?? DEFAULT_PORT} on 127.0.0.1 is in use: pass --port (0 picks a free one)`,
            )
          : err,
      );
    server.once('error', failed);
    server.listen({ host: '127.0.0.1', port: options.port ?? DEFAULT_PORT }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  server.on('error', () => {
    // Accept errors (too many open files) cost that connection only.
  });

  view.onUpdate((snapshot, point) => app.broadcast(snapshot, point));
  try {
    await view.start();
    await logs.start();
  } catch (err) {
    await Promise.allSettled([view.stop(), logs.close()]);
    server.close();
    throw err;
  }

  const close = async () => {
    app.closeStreams();
    await Promise.allSettled([view.stop(), logs.close()]);
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  };
  return {
    url: `http://127.0.0.1:${port}/#token=${token}`,
    port,
    token,
    view,
    logs,
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** The routes; one instance per server. */
class App {
  /** every open stream (live feeds and log views) */
  readonly streams = new Set<SseStream>();
  /** the pages' live feeds */
  readonly feeds = new Set<SseStream>();
  #tracesSent = -1;

  constructor(
    readonly client: ClusterClient,
    readonly view: ClusterView,
    readonly logs: LogHub,
    readonly assets: Map<string, Asset>,
    readonly limits: {
      body: number;
      queued: number;
      streams: number;
      traceSpans: number;
      traceRecords: number;
    },
  ) {}

  /** After each reading: the same bytes to every page, serialized once. */
  broadcast(snapshot: ClusterSnapshot, point: MetricsPoint): void {
    if (this.feeds.size === 0) return;
    const cluster = safeJson(snapshot);
    const metrics = safeJson(point);
    const version = this.logs.traces.version;
    const traces = version !== this.#tracesSent ? safeJson(this.logs.traces.recent()) : undefined;
    this.#tracesSent = version;
    for (const s of this.feeds) {
      s.send('cluster', cluster);
      s.send('metrics', metrics);
      if (traces) s.send('traces', traces);
    }
  }

  closeStreams(): void {
    for (const s of this.streams) s.close();
  }

  async handle(req: IncomingMessage, res: ServerResponse, port: number, token: string) {
    try {
      let url: URL;
      try {
        url = new URL(req.url ?? '/', 'http://127.0.0.1');
      } catch {
        throw new RequestError(400, 'malformed request target');
      }
      const api = url.pathname.startsWith('/api/');
      const refusal = checkRequest(req.headers, { port, token, needsToken: api });
      if (refusal) throw new RequestError(refusal.status, refusal.message);
      const method = req.method ?? 'GET';
      if (!api) {
        const asset = this.assets.get(url.pathname === '/index.html' ? '/' : url.pathname);
        if (!asset) throw new RequestError(404, `no page at ${url.pathname}`);
        allow(method, ['GET', 'HEAD'], res);
        sendAsset(res, asset.type, asset.bytes);
        return;
      }
      await this.#api(req, res, method, url);
    } catch (err) {
      // A refused request's body is never read: the connection closes after the answer.
      if (!req.complete && !res.headersSent) res.setHeader('Connection', 'close');
      if (err instanceof RequestError) sendError(res, err.status, err.message);
      else if (err instanceof UsageError) sendError(res, 400, err.message);
      else if (err instanceof SvcError) sendError(res, 502, err.message);
      else sendError(res, 500, `dashboard error: ${(err as Error)?.message ?? String(err)}`);
    }
  }

  async #api(req: IncomingMessage, res: ServerResponse, method: string, url: URL): Promise<void> {
    const path = url.pathname;
    if (path === '/api/stream') {
      allow(method, ['GET'], res);
      this.#stream(res);
      return;
    }
    if (path === '/api/logs') {
      allow(method, ['GET'], res);
      await this.#logStream(res, url.searchParams);
      return;
    }
    const service = /^\/api\/services\/([^/]{1,200})$/.exec(path);
    if (service) {
      allow(method, ['GET'], res);
      const name = decodePart(service[1]!);
      const [description, statuses] = await Promise.all([
        this.view.describe(name),
        this.view.statuses(name),
      ]);
      const detail: ServiceDetail = { description, statuses };
      sendJson(res, 200, detail);
      return;
    }
    const trace = /^\/api\/traces\/([^/]+)$/.exec(path);
    if (trace) {
      allow(method, ['GET'], res);
      sendJson(res, 200, await this.#trace(trace[1]!));
      return;
    }
    if (
      path === '/api/call' ||
      path === '/api/emit' ||
      path === '/api/debug' ||
      path === '/api/node/restart'
    ) {
      allow(method, ['POST'], res);
      const body = await readJsonBody(req, this.limits.body);
      if (path === '/api/call') sendJson(res, 200, await callMethod(this.client, body));
      else if (path === '/api/emit') sendJson(res, 200, await emitEvent(this.client, body));
      else if (path === '/api/debug') sendJson(res, 200, await debugInstance(this.client, body));
      else {
        if (typeof body['name'] !== 'string')
          throw new RequestError(400, 'name must be the instance name from .svc.yml');
        await this.view.restart(body['name']);
        sendJson(res, 200, { ok: true });
      }
      return;
    }
    throw new RequestError(404, `no API at ${path}`);
  }

  #open(res: ServerResponse): SseStream {
    if (this.streams.size >= this.limits.streams)
      throw new RequestError(503, `too many open pages (${this.limits.streams}); close some`);
    const stream = new SseStream(res, { maxQueuedBytes: this.limits.queued });
    this.streams.add(stream);
    stream.onClose(() => this.streams.delete(stream));
    return stream;
  }

  /** The page's live feed: the cluster now, the charts' history, recent traces; then every reading. */
  #stream(res: ServerResponse): void {
    const stream = this.#open(res);
    this.feeds.add(stream);
    stream.onClose(() => this.feeds.delete(stream));
    stream.send('cluster', safeJson(this.view.snapshot));
    stream.send('history', safeJson(this.view.history));
    stream.send('traces', safeJson(this.logs.traces.recent()));
  }

  async #logStream(res: ServerResponse, params: URLSearchParams): Promise<void> {
    const services = (params.get('services') ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    const opt = (key: string) => {
      const v = params.get(key);
      return v === null || v === '' ? undefined : v;
    };
    const level = opt('level');
    const grep = opt('grep');
    const trace = opt('trace');
    const query = {
      services,
      ...(level === undefined ? {} : { level: level as LogLevel }),
      ...(grep === undefined ? {} : { grep }),
      ...(trace === undefined ? {} : { trace }),
    };
    // A bad query is a 400 and a full house a 503, both before the stream opens.
    makeFilter(query);
    // A trace's records written before the dashboard followed their instances (it started
    // after them, or its connection to one was still coming up) are in the instances' own
    // histories, where the trace view reads them too. Only for a whole trace id: an instance
    // asked for a prefix sends its whole history (2000 records) to be filtered here, for every
    // logs view a browser opens.
    let history: LogRecord[] = [];
    if (trace !== undefined && trace.length >= FULL_TRACE) {
      history = await traceHistory(this.client, { services, trace, timeout: 2000 }).then(
        (h) => h.records,
        () => [],
      );
    }
    if (!this.logs.subscribe(query, () => this.#open(res), history))
      throw new RequestError(503, 'too many log views are open; close some');
  }

  async #trace(id: string): Promise<TraceAnswer> {
    if (!TRACE_ID.test(id))
      throw new RequestError(400, 'a trace id is 6 to 128 letters, digits, _ or -');
    let traceId = id;
    if (id.length < FULL_TRACE) {
      const found = this.logs.traces
        .recent(Number.MAX_SAFE_INTEGER)
        .filter((t) => t.traceId.startsWith(id));
      if (found.length === 1) traceId = found[0]!.traceId;
      else if (found.length > 1)
        throw new RequestError(400, `${id} starts ${found.length} recent traces: give more of it`);
    }
    const history = await traceHistory(this.client, {
      services: [],
      trace: traceId,
      timeout: 2000,
    });
    const records = mergeRecords(this.logs.recordsOf(traceId), history.records);
    if (records.length === 0)
      throw new RequestError(404, `no instance holds records of trace ${traceId} any more`);
    return {
      ...limitTrace(buildTrace(traceId, records), this.limits.traceSpans, this.limits.traceRecords),
      unreachable: history.failures.map((f) => ({
        service: f.instance.service,
        instance: f.instance.id,
        error: f.error,
      })),
    };
  }
}

function allow(method: string, methods: string[], res: ServerResponse): void {
  if (methods.includes(method)) return;
  res.setHeader('Allow', methods.join(', '));
  throw new RequestError(405, `${method} is not allowed here (allowed: ${methods.join(', ')})`);
}

function decodePart(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new RequestError(400, `malformed name in the path: ${JSON.stringify(text)}`);
  }
}
