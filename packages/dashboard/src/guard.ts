import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** A refusal: the HTTP status and one line saying why. */
export interface Refusal {
  status: number;
  message: string;
}

/** A new access token: 32 random bytes, URL-safe. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** The origins the page itself is served from (http only: the server speaks nothing else). */
export function ownOrigins(port: number): string[] {
  return [`http://127.0.0.1:${port}`, `http://localhost:${port}`];
}

/**
 * Checks that a request is meant for this server and comes from its own
 * page (or from no page at all, as curl's), before anything of it is read:
 *
 * - `Host` must name 127.0.0.1 or localhost with our port: a page of
 *   another site whose DNS name is rebound to 127.0.0.1 sends its own
 *   name, and is refused.
 * - `Origin`, when sent (browsers send it on every cross-origin request and
 *   on every POST), must be our own; `Sec-Fetch-Site`, when sent, must say
 *   the request comes from our page or from the user (address bar).
 * - With `needsToken`, `Authorization: Bearer <token>` must carry the token
 *   printed with the URL.
 */
export function checkRequest(
  headers: IncomingHttpHeaders,
  options: { port: number; token: string; needsToken: boolean },
): Refusal | undefined {
  const host = headers.host?.toLowerCase();
  const hosts = [`127.0.0.1:${options.port}`, `localhost:${options.port}`];
  if (host === undefined || !hosts.includes(host))
    return {
      status: 403,
      message: `Host ${JSON.stringify(headers.host ?? '')} is not this dashboard's (open ${hosts[0]})`,
    };
  const origin = headers.origin;
  if (origin !== undefined && !ownOrigins(options.port).includes(origin.toLowerCase()))
    return { status: 403, message: `cross-origin request from ${JSON.stringify(origin)} refused` };
  const site = headers['sec-fetch-site'];
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    return { status: 403, message: `${site} request refused` };
  if (options.needsToken && !hasToken(headers.authorization, options.token))
    return {
      status: 401,
      message:
        'missing or wrong token: open the URL svc dashboard printed (it carries the token after #token=)',
    };
  return undefined;
}

/** Whether an `Authorization` header carries `Bearer <token>`, compared in constant time. */
export function hasToken(authorization: string | undefined, token: string): boolean {
  if (authorization === undefined) return false;
  const m = /^Bearer ([A-Za-z0-9_-]{1,256})$/.exec(authorization.trim());
  if (!m) return false;
  const given = Buffer.from(m[1]!);
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}
