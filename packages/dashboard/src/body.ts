import type { IncomingMessage, ServerResponse } from 'node:http';
import { parseJsonSafe, safeJson } from '@svc/core/internal';

/** An HTTP error the server answers with its status and message. */
export class RequestError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = 'RequestError';
    this.status = status;
  }
}

/**
 * Reads a JSON object body of at most `limit` bytes. A larger body is
 * refused (413) as soon as it passes the limit, without reading the rest;
 * a body that is not a JSON object is a 400; one that is not declared
 * `application/json` is a 415 (forms from other sites cannot send it
 * without a CORS preflight that this server never grants).
 */
export async function readJsonBody(
  req: IncomingMessage,
  limit: number,
): Promise<Record<string, unknown>> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\s*(;|$)/i.test(type))
    throw new RequestError(415, 'the body must be JSON (Content-Type: application/json)');
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new RequestError(413, `request body over ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new RequestError(413, `request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  let value: unknown;
  try {
    value = parseJsonSafe(Buffer.concat(chunks).toString('utf8'));
  } catch (err) {
    throw new RequestError(400, `the body is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RequestError(400, 'the body must be a JSON object');
  return value as Record<string, unknown>;
}

const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

/** Sends a JSON value. */
export function sendJson(res: ServerResponse, status: number, value: unknown): void {
  const body = safeJson(value);
  res.writeHead(status, {
    ...SECURITY_HEADERS,
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Sends `{ error }` with a status (or, once an answer has begun, cuts the connection). */
export function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: message, status });
}

/** Sends a file's bytes with its type, and the headers that keep it from being framed or sniffed. */
export function sendAsset(res: ServerResponse, type: string, bytes: Buffer): void {
  res.writeHead(200, {
    ...SECURITY_HEADERS,
    'Content-Type': type,
    'Content-Length': bytes.length,
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy':
      "default-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  });
  res.end(bytes);
}
