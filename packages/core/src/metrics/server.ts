import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { PROMETHEUS_CONTENT_TYPE } from './prometheus.js';

/** What an instance (or `svc node`) answers on its metrics port. */
export interface MetricsEndpoints {
  /** the Prometheus text of `/metrics` */
  metrics(): string | Promise<string>;
  /** `/healthz`: the process serves (default: always, once it answers at all) */
  live?(): boolean;
  /** `/readyz`: why it is not ready, or undefined when it is (default: ready) */
  notReady?(): string | undefined;
}

/**
 * A small HTTP server for `/metrics` (Prometheus), `/healthz` (liveness)
 * and `/readyz` (readiness). GET and HEAD only; request bodies are never
 * read; headers and idle connections are cut short.
 */
export class MetricsServer {
  readonly #server: Server;
  readonly #endpoints: MetricsEndpoints;
  readonly #onError: (err: Error) => void;

  constructor(endpoints: MetricsEndpoints, options: { onError?: (err: Error) => void } = {}) {
    this.#endpoints = endpoints;
    this.#onError = options.onError ?? (() => {});
    this.#server = createServer(
      { maxHeaderSize: 8192, requestTimeout: 10_000, headersTimeout: 5_000 },
      (req, res) => void this.#handle(req, res),
    );
    this.#server.keepAliveTimeout = 5_000;
    // A scraper and a few probes: more connections than this are refused, not queued.
    this.#server.maxConnections = 64;
  }

  /** Listens; resolves with `http://host:port`. */
  listen(port: number, host: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      this.#server.once('error', onError);
      this.#server.listen({ port, host }, () => {
        this.#server.off('error', onError);
        this.#server.on('error', (err) => this.#onError(err));
        const a = this.#server.address() as AddressInfo;
        resolve(`http://${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}`);
      });
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8') => {
      res.writeHead(status, {
        'content-type': type,
        'content-length': Buffer.byteLength(body),
        'cache-control': 'no-store',
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.setHeader('allow', 'GET, HEAD');
        return send(405, 'method not allowed\n');
      }
      const path = (req.url ?? '/').split('?')[0];
      switch (path) {
        case '/metrics':
          return send(200, await this.#endpoints.metrics(), PROMETHEUS_CONTENT_TYPE);
        case '/healthz':
          return (this.#endpoints.live?.() ?? true) ? send(200, 'ok\n') : send(503, 'not live\n');
        case '/readyz': {
          const why = this.#endpoints.notReady?.();
          return why === undefined ? send(200, 'ready\n') : send(503, `not ready: ${why}\n`);
        }
        default:
          return send(404, 'not found (try /metrics, /healthz or /readyz)\n');
      }
    } catch (err) {
      this.#onError(err as Error);
      if (!res.headersSent) send(500, 'metrics failed\n');
      else res.destroy();
    }
  }

  /** Stops listening and closes every connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
    });
  }
}
