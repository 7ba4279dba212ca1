import {
  createServer,
  STATUS_CODES,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import { Server as NetServer, type AddressInfo, type DropArgument, type Socket } from 'node:net';
import type { ServiceContainer } from '../container/container.js';
import type { CallHeaders } from '../context-headers.js';
import { newTraceId } from '../context.js';
import type { EntrypointMeta } from '../decorators.js';
import { ContainerStoppedError, SvcError, UnknownServiceError } from '../errors.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { listen } from '../listen.js';
import { elapsedMs, isThenable } from '../sync.js';
import type { Hooks } from '../hooks.js';
import { CALL_RECORD, type Logger } from '../log/logger.js';
import {
  checkTracestate,
  formatTraceparent,
  newSpanId,
  parseTraceparent,
  SAMPLED,
} from '../tracing/ids.js';
import { noInstance } from '../rpc/failover.js';
import { Router } from './router.js';
import {
  ClosedConnections,
  STOP_IDLE_GRACE_MS,
  clientErrorResponse,
  lingerOnClose,
} from './connections.js';
import {
  hasBody,
  IncomingRequest,
  OutgoingResponse,
  parseTarget,
  readBody,
  sendValue,
} from './messages.js';
import { HttpError } from './types.js';

type HttpEp = Extract<EntrypointMeta, { kind: 'http' }>;

export interface HttpServerOptions {
  host: string;
  /** host named in the URL it publishes (default: `host`, or 127.0.0.1 for a wildcard) */
  advertise?: string;
  /** TCP port; 0 picks a free one */
  port?: number;
  /** listen on this inherited descriptor (a socket shared by `svc node`) instead of a port */
  fd?: number;
  /** honour an incoming `traceparent` (and `tracestate`), or else `X-Trace-Id` */
  trustTraceHeader: boolean;
  /** largest request body accepted, bytes (default 1 MiB) */
  maxBodyBytes?: number;
  /**
   * connections held at once by this server (so per process when processes share the
   * listening socket); more are closed as they arrive (default 1024, `limits.http_max_connections`)
   */
  maxConnections?: number;
  /** ms a client has to send a request's headers; 408 and closed after (default 10 s) */
  headersTimeout?: number;
  /** ms a client has to send a whole request, headers and body; 408 and closed after (default 30 s) */
  requestTimeout?: number;
  log: Logger;
  hooks: Hooks;
}

const TRACE_ID = /^[A-Za-z0-9._-]{1,128}$/;

/**
 * Largest request line and headers accepted, together (431 beyond). Node's
 * default, set here so that `--max-http-header-size` does not change it.
 */
const MAX_HEADER_BYTES = 16 * 1024;

/** One request being served: what its record and its error response need. */
interface Served {
  res: ServerResponse;
  socket: Socket;
  method: string;
  /** the request's path, once its target is parsed ('/' before) */
  path: string;
  /** `performance.now()` when it arrived */
  started: number;
  traceId: string;
  spanId: string;
}

/** What the server knows of one client connection, for a graceful stop and its limits. */
interface ConnectionState {
  /** the response being produced on it, if a request is running */
  res: ServerResponse | undefined;
  /** the last request whose headers came on it (its body may still be coming) */
  req: IncomingMessage | undefined;
  /** `performance.now()` when it last became idle */
  idleSince: number;
}

/**
 * Serves the `@http` routes of every container of an instance. Every
 * response carries `X-Trace-Id` and a W3C `traceparent` naming the
 * request's span; the trace flows into the RPCs and events made by the
 * handler. Malformed requests get a 4xx with a clear message, a
 * handler that throws gets a 500 and an error record with the trace id,
 * one whose call found no instance of its service to run it a 503 with
 * `Retry-After`.
 */
export class HttpEntrypointServer {
  readonly #router = new Router<{ container: ServiceContainer; ep: HttpEp }>();
  readonly #options: HttpServerOptions;
  readonly #connections = new Map<Socket, ConnectionState>();
  /** sockets closed on our side after their last response, waiting for the client's close */
  readonly #lingering = new WeakSet<Socket>();
  /**
   * connections whose request did not come in time, answered 408 and closed (kept past
   * their close: the body's read fails after it)
   */
  readonly #timedOut = new WeakSet<Socket>();
  #server: Server | undefined;
  #stopping = false;
  #closed: ClosedConnections | undefined;

  constructor(containers: readonly ServiceContainer[], options: HttpServerOptions) {
    this.#options = options;
    for (const container of containers) {
      for (const ep of container.entrypoints) {
        if (ep.kind === 'http') this.#router.add(ep.verb, ep.path, { container, ep });
      }
    }
  }

  get hasRoutes(): boolean {
    return this.#router.size > 0;
  }

  /** Starts listening; returns the URL it serves at. */
  async start(): Promise<string> {
    const maxConnections = this.#options.maxConnections ?? DEFAULT_LIMITS.httpMaxConnections;
    const requestTimeout = this.#options.requestTimeout ?? DEFAULT_LIMITS.httpRequestTimeout;
    // Node refuses a headers timeout longer than the request's, which includes them.
    const headersTimeout = Math.min(
      this.#options.headersTimeout ?? DEFAULT_LIMITS.httpHeadersTimeout,
      requestTimeout,
    );
    const server = createServer(
      {
        maxHeaderSize: MAX_HEADER_BYTES,
        headersTimeout,
        requestTimeout,
        // Node looks for requests past their time every 30 s by default: a 10 s headers
        // timeout would act after up to 40. It looks only at connections with a request
        // coming in, not at idle ones.
        connectionsCheckingInterval: Math.min(Math.max(Math.floor(headersTimeout / 4), 50), 1000),
      },
      (req, res) => this.#handle(req, res),
    );
    server.keepAliveTimeout = 5000;
    // Past the cap Node closes a connection as it is accepted, before reading a byte of it (or
    // making a socket of it): a client cannot take the process's descriptors (its RPC,
    // registry and event sockets would fail with EMFILE).
    server.maxConnections = maxConnections;
    this.#closed = new ClosedConnections((counts, sources) =>
      this.#options.log.warn('http connections closed', {
        ...counts,
        maxConnections,
        headersTimeoutMs: headersTimeout,
        requestTimeoutMs: requestTimeout,
        open: this.#connections.size,
        sources,
      }),
    );
    server.on('drop', (peer?: DropArgument) =>
      this.#closed?.count('refusedOverCap', peer?.remoteAddress),
    );
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
      this.#clientError(err, socket),
    );
    server.on('connection', (socket: Socket) => {
      this.#connections.set(socket, {
        res: undefined,
        req: undefined,
        idleSince: performance.now(),
      });
      if (this.#stopping) lingerOnClose(socket, this.#lingering);
      socket.once('close', () => this.#connections.delete(socket));
    });
    this.#server = server;
    const { fd, host: bindHost, port } = this.#options;
    await listen(server, fd !== undefined ? { fd } : { host: bindHost, port: port ?? 0 });
    const addr = server.address() as AddressInfo | null;
    const host =
      this.#options.advertise ??
      (addr && addr.address !== '::' && addr.address !== '0.0.0.0' ? addr.address : '127.0.0.1');
    return `http://${host.includes(':') ? `[${host}]` : host}:${addr?.port ?? 0}`;
  }

  /**
   * Stops accepting connections and lets running requests finish: each
   * response still to come, on a running request or one that arrives on a
   * kept-alive connection, goes out with `Connection: close`, so that the
   * client reconnects (to another process sharing the port) instead of
   * losing a request; a connection idle for a moment is closed. After
   * `timeoutMs`, whatever is still open is closed.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#stopping = true;
    for (const [socket, state] of this.#connections) {
      lingerOnClose(socket, this.#lingering);
      if (state.res && !state.res.headersSent) state.res.setHeader('Connection', 'close');
    }
    // net.Server's close: stops accepting, nothing more. http.Server's own also closes
    // every connection idle at that instant, the moment between a response and the
    // client's next request on it (which is then reset).
    const closed = new Promise<void>((resolve) =>
      NetServer.prototype.close.call(server, () => resolve()),
    );
    const deadline = performance.now() + timeoutMs;
    // Connections are counted here, not by the close callback: a server listening on a
    // descriptor shared by `svc node` calls it back before its connections are gone.
    while (this.#connections.size > 0 && performance.now() < deadline) {
      const now = performance.now();
      for (const [socket, state] of this.#connections) {
        if (this.#lingering.has(socket)) continue;
        if (!state.res && now - state.idleSince >= STOP_IDLE_GRACE_MS) socket.destroy();
      }
      await new Promise((r) => setTimeout(r, Math.max(0, Math.min(100, deadline - now))));
    }
    // Past the stop timeout: a request still running is given up.
    server.closeAllConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise((r) => (timer = setTimeout(r, 1000)))]);
    clearTimeout(timer);
    // http.Server's own close, now that no connection is left: it stops the timer that looks
    // for requests past their time, which net.Server's close above leaves running (and
    // holding this server and its containers).
    server.close();
    // What the limits closed during the last window, said before the process goes.
    this.#closed?.flush();
  }

  /**
   * A request the server cannot read: not received in time (its headers or
   * its body), or malformed. Answered as Node's own handling does (408, 431,
   * 400, unless a response has started on the connection), then closed; the
   * timeouts are counted for the summary line.
   */
  #clientError(err: NodeJS.ErrnoException, socket: Socket): void {
    const state = this.#connections.get(socket);
    // A request whose headers came but whose body has not (a response may have gone out,
    // a 413 or a 404, before the body was read).
    const bodyComing = state?.req !== undefined && !state.req.complete;
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      this.#timedOut.add(socket);
      this.#closed?.count(bodyComing ? 'requestTimedOut' : 'headersTimedOut', socket.remoteAddress);
    }
    // No answer once one has begun: it would land inside a response being sent, or after
    // the one that went out before the body was read.
    const answered = state?.res !== undefined ? state.res.headersSent : bodyComing;
    if (socket.writable && !answered) socket.write(clientErrorResponse(err.code));
    socket.destroy();
  }

  /**
   * Serves one request. Not an async function: under AsyncLocalStorage's
   * hooks (Node.js before 24) every promise, and every `await`'s own, costs
   * hook calls; a request whose worker answers without a promise makes none
   * here, and one that awaits makes one.
   */
  #handle(req: IncomingMessage, res: ServerResponse): void {
    // A request sent after we said `Connection: close` (the client did not wait to read it):
    // not served; the client sees the connection end and sends it again on a new one.
    if (this.#lingering.has(req.socket)) {
      req.resume();
      return;
    }
    const started = performance.now();
    // Cleared in #done: a listener per response cost an `once` wrapper and an emit. A response
    // never done (its client gone, the handler hung) ends with its socket, which drops the state.
    const state = this.#connections.get(req.socket);
    if (state) {
      state.res = res;
      state.req = req;
    }
    if (this.#stopping) res.setHeader('Connection', 'close');
    const trace = this.#incomingTrace(req);
    const traceId = trace.traceId;
    const spanId = newSpanId();
    res.setHeader('X-Trace-Id', traceId);
    res.setHeader('traceparent', formatTraceparent(traceId, spanId, trace.traceFlags ?? SAMPLED));
    const served: Served = {
      res,
      socket: req.socket,
      method: req.method ?? 'GET',
      path: '/',
      started,
      traceId,
      spanId,
    };
    try {
      const url = parseTarget(req.url ?? '/');
      const path = (served.path = url.pathname);
      const { method } = served;
      const route = this.#router.match(method, path);
      if (!route) throw new HttpError(404, `no route for ${method} ${path}`);
      if ('allowed' in route) {
        res.setHeader('Allow', route.allowed.join(', '));
        throw new HttpError(
          405,
          `${method} is not allowed on ${path} (allowed: ${route.allowed.join(', ')})`,
        );
      }
      // Runs the handler and answers; its errors become the error response (a body read
      // later calls it from a promise's callback, where a throw would be lost).
      const run = (body: unknown) => {
        const response = new OutgoingResponse(res);
        let request;
        try {
          request = new IncomingRequest(req, method, path, url.search, route.params, body, traceId);
        } catch (err) {
          this.#failed(served, err);
          return;
        }
        let result;
        try {
          const { container, ep } = route.target;
          result = container.dispatch(ep, [request, response], trace, { spanId });
        } catch (err) {
          this.#failed(served, err, true);
          return;
        }
        if (!isThenable(result)) return this.#respond(served, response, result);
        result.then(
          (value) => this.#respond(served, response, value),
          (err: unknown) => this.#failed(served, err, true),
        );
      };
      if (!hasBody(req)) return run(undefined);
      readBody(req, this.#options.maxBodyBytes ?? 1024 * 1024).then(run, (err: unknown) =>
        this.#failed(served, err),
      );
    } catch (err) {
      this.#failed(served, err);
    }
  }

  /** Sends what the handler returned (unless it sent its response itself), then records it. */
  #respond(served: Served, response: OutgoingResponse, result: unknown): void {
    try {
      if (!response.sent) sendValue(response, result);
    } catch (err) {
      this.#failed(served, err);
      return;
    }
    this.#done(served, served.res.statusCode);
  }

  /**
   * Answers a request that failed. `fromWorker`: the error came out of the
   * handler's worker, which has logged it already (as an error, or at WARN
   * when expected); any other is logged here.
   */
  #failed(served: Served, err: unknown, fromWorker = false): void {
    const { res, traceId, method, path } = served;
    // Its body did not come in time (the body's read fails as the connection closes): the
    // client was answered 408, and the limits' summary line says so.
    if (!fromWorker && this.#timedOut.has(served.socket)) {
      this.#done(served, 408);
      return;
    }
    this.#done(served, this.#sendError(res, err, traceId, method, path, fromWorker));
  }

  /** The request's access record and the `onHttpRequest` hooks. */
  #done(served: Served, status: number): void {
    const { res, method, path, traceId, spanId } = served;
    const state = this.#connections.get(served.socket);
    if (state !== undefined && state.res === res) {
      state.res = undefined;
      state.idleSince = performance.now();
    }
    const durationMs = elapsedMs(served.started);
    const log = this.#options.log;
    if (log.enabled?.('info') !== false) {
      // The access record of a request that succeeded, like a worker's, is kept in the history
      // and printed only on request (`log.calls`); a 4xx or 5xx is always printed: a 404 from
      // routing has no worker record of its own.
      log.info(`http ${method} ${path} ${status}`, {
        [CALL_RECORD]: status < 400,
        kind: 'http',
        traceId,
        spanId,
        method,
        path,
        status,
        duration_ms: durationMs,
      });
    }
    // Hooks log their own errors: this never rejects.
    if (this.#options.hooks.has('onHttpRequest'))
      void this.#options.hooks.run('onHttpRequest', {
        method,
        path,
        status,
        durationMs,
        traceId,
      });
  }

  /**
   * The trace a request joins: a trusted edge's `traceparent` (its span
   * becomes the request's parent; `tracestate` passes on), else its
   * `X-Trace-Id`, else a new trace. Malformed headers are ignored.
   */
  #incomingTrace(req: IncomingMessage): Partial<CallHeaders> & { traceId: string } {
    if (this.#options.trustTraceHeader) {
      const parent = parseTraceparent(req.headers['traceparent']);
      if (parent) {
        const trace: Partial<CallHeaders> & { traceId: string } = {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.flags,
        };
        const state = checkTracestate(req.headers['tracestate']);
        if (state !== undefined) trace.traceState = state;
        return trace;
      }
      const incoming = req.headers['x-trace-id'];
      if (typeof incoming === 'string' && TRACE_ID.test(incoming)) return { traceId: incoming };
    }
    return { traceId: newTraceId() };
  }

  #logFailure(err: unknown, traceId: string, method: string, path: string): void {
    const why = (err as Error)?.message ?? String(err);
    this.#options.log.error(`http ${method} ${path} failed: ${why}`, { traceId });
  }

  #sendError(
    res: ServerResponse,
    err: unknown,
    traceId: string,
    method: string,
    path: string,
    fromWorker: boolean,
  ): number {
    let status = 500;
    let message = 'internal server error';
    /** a 503 of svc's own: the client may try again in a second */
    let retry = false;
    if (err instanceof HttpError) {
      status = err.status;
      message = err.message;
    } else if (err instanceof ContainerStoppedError) {
      status = err.httpStatus;
      message = 'service is stopping';
      retry = true;
    } else if (noInstance(err)) {
      // A service the handler called has no instance to run the call: none registered yet (a
      // cluster starting), every one gone or refusing, or a misspelled name. A gateway's 503,
      // to try again; the worker logged it at WARN. A refusal, or an UnknownServiceError
      // rebuilt from a nested call's answer, does not know its service.
      status = err.httpStatus;
      message =
        err instanceof UnknownServiceError && err.service !== undefined
          ? `service "${err.service}" is unavailable`
          : 'a service this request needs is unavailable';
      retry = true;
    } else if (err instanceof SvcError && err.httpStatus < 500) {
      // The client's doing (a ValidationError, a user error class with its own status): say what.
      status = err.httpStatus;
      message = err.message;
    } else if (err instanceof SvcError && err.httpStatus > 500 && err.httpStatus <= 599) {
      // A class that names its own 5xx (a user's `static httpStatus = 502`): that status, with
      // its standard phrase; the message, as a 500's, stays in the log.
      status = err.httpStatus;
      message = STATUS_CODES[status]?.toLowerCase() ?? message;
      if (!fromWorker) this.#logFailure(err, traceId, method, path);
    } else if (!fromWorker) {
      // The worker logged the handler's own; those before it or after it (the body, the
      // request, sending the result) are logged here.
      this.#logFailure(err, traceId, method, path);
    }
    if (res.headersSent) {
      res.destroy();
      return status;
    }
    res.statusCode = status;
    if (retry) res.setHeader('Retry-After', '1');
    res.setHeader('Content-Type', 'application/json; charset=utf-8');
    res.end(JSON.stringify({ error: message, status, traceId }));
    return status;
  }
}
