import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { ErrorCode, ownValue, SvcError } from '../errors.js';

/**
 * Throw to answer with an HTTP status: `throw new HttpError(404, 'no such
 * user')`. A status below 500 is the client's doing, so the worker logs it
 * as expected (WARN, no stack); 500 and up are faults.
 */
export class HttpError extends SvcError {
  static override code: string = ErrorCode.HTTP;
  readonly status: number;
  constructor(status: number, message: string, options: { data?: unknown } = {}) {
    super(message, options);
    this.status = status;
  }
  override get expected(): boolean {
    return this.status < 500;
  }
  override set expected(value: boolean) {
    ownValue(this, 'expected', value);
  }
  override get httpStatus(): number {
    return this.status;
  }
}

/** What an `@http` handler receives: Node's request, with the parts a handler needs parsed. */
export interface HttpRequest {
  method: string;
  /** path without the query string */
  path: string;
  /** full request URL (path and query) */
  url: string;
  /** query parameters; a repeated key keeps its last value (all values in `searchParams`) */
  query: Record<string, string>;
  searchParams: URLSearchParams;
  /** path parameters (`/get/:value`) */
  params: Record<string, string>;
  headers: IncomingHttpHeaders;
  /** parsed JSON for `application/json`, text for text types, a Buffer otherwise; undefined when empty */
  body: unknown;
  traceId: string;
  raw: IncomingMessage;
}

/** The response side: Node's ServerResponse with a few helpers. */
export interface HttpResponse {
  status(code: number): HttpResponse;
  setHeader(name: string, value: string | number | readonly string[]): HttpResponse;
  /** Sends a JSON body. */
  json(value: unknown): void;
  /** Sends a string (text/plain), a Buffer (application/octet-stream) or nothing. */
  send(body?: string | Buffer): void;
  readonly sent: boolean;
  raw: ServerResponse;
}
