import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonSafe } from '../serializers/json.js';
import { HttpError, type HttpRequest, type HttpResponse } from './types.js';

// The HTTP server's request and response: what a route's handler is given,
// how the request target and body are read, how its return value is sent.

/**
 * A request's body, read up to `limit` bytes (413 beyond): JSON parsed (without
 * prototype-polluting keys), text as a string, anything else as bytes.
 */
export async function readBody(req: IncomingMessage, limit: number): Promise<unknown> {
  const length = req.headers['content-length'];
  const declared = Number(length ?? 0);
  if (declared > limit) throw new HttpError(413, `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  const raw = Buffer.concat(chunks);
  const type = String(req.headers['content-type'] ?? '').toLowerCase();
  if (type.includes('json')) {
    try {
      return parseJsonSafe(raw.toString('utf8'));
    } catch (err) {
      throw new HttpError(400, `malformed JSON body: ${(err as Error).message}`);
    }
  }
  if (type.startsWith('text/') || type.includes('x-www-form-urlencoded'))
    return raw.toString('utf8');
  return raw;
}

/**
 * What a handler gets as its request. The query is parsed when first read:
 * most routes read none, and a URLSearchParams and its object per request
 * were a tenth of a plain request's allocations.
 */
export class IncomingRequest implements HttpRequest {
  method: string;
  path: string;
  url: string;
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: unknown;
  traceId: string;
  raw: IncomingMessage;
  readonly #search: string;
  #searchParams: URLSearchParams | undefined;
  #query: Record<string, string> | undefined;

  constructor(
    raw: IncomingMessage,
    method: string,
    path: string,
    search: string,
    params: Record<string, string>,
    body: unknown,
    traceId: string,
  ) {
    this.raw = raw;
    this.method = method;
    this.path = path;
    this.url = raw.url ?? '/';
    this.headers = raw.headers;
    this.#search = search;
    this.params = params;
    this.body = body;
    this.traceId = traceId;
  }
  get searchParams(): URLSearchParams {
    return (this.#searchParams ??= new URLSearchParams(this.#search));
  }
  set searchParams(value: URLSearchParams) {
    this.#searchParams = value;
  }
  get query(): Record<string, string> {
    return (this.#query ??= Object.fromEntries(this.searchParams));
  }
  set query(value: Record<string, string>) {
    this.#query = value;
  }
}

/** What a handler gets as its response: Node's ServerResponse with a few helpers. */
export class OutgoingResponse implements HttpResponse {
  readonly raw: ServerResponse;
  #sent = false;

  constructor(raw: ServerResponse) {
    this.raw = raw;
  }
  get sent(): boolean {
    return this.#sent || this.raw.writableEnded;
  }
  status(code: number): HttpResponse {
    this.raw.statusCode = code;
    return this;
  }
  setHeader(name: string, value: string | number | readonly string[]): HttpResponse {
    this.raw.setHeader(name, value);
    return this;
  }
  json(value: unknown): void {
    this.#sent = true;
    this.raw.setHeader('Content-Type', 'application/json; charset=utf-8');
    this.raw.end(JSON.stringify(value));
  }
  send(body?: string | Buffer): void {
    this.#sent = true;
    const res = this.raw;
    if (typeof body === 'string' && !res.hasHeader('Content-Type')) {
      res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    } else if (Buffer.isBuffer(body) && !res.hasHeader('Content-Type')) {
      res.setHeader('Content-Type', 'application/octet-stream');
    }
    res.end(body);
  }
}

/**
 * A request without Content-Length or Transfer-Encoding has no body (RFC 9112
 * 6.3): nothing to wait for (not even a promise), and node discards the
 * empty stream once the response ends.
 */
export function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

/** A handler's return value as the response: text, bytes, JSON, or an empty 204. */
export function sendValue(res: HttpResponse, value: unknown): void {
  if (value === undefined || value === null) {
    if (res.raw.statusCode === 200) res.status(204);
    res.send();
  } else if (typeof value === 'string' || Buffer.isBuffer(value)) res.send(value);
  else res.json(value);
}

/** Plain paths, the common case, which `new URL` would leave as they are. */
const PLAIN_PATH = /^(?:\/[A-Za-z0-9_~-][A-Za-z0-9._~-]*)*\/?$/;

/**
 * The path and query (with its `?`, or empty) of a request target. A plain
 * path without a query skips `new URL` (a tenth of a request's CPU);
 * anything else (query, percent-encoding, dot segments) goes through it for
 * WHATWG normalisation.
 */
export function parseTarget(target: string): { pathname: string; search: string } {
  if (target !== '' && PLAIN_PATH.test(target)) return { pathname: target, search: '' };
  return new URL(target, 'http://localhost');
}
