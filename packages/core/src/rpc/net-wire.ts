import { ConfigError } from '../errors.js';

// Wire messages of the `net` transport are MessagePack arrays, positional to
// keep frames small and decoding cheap. Caller to server:
//   [REQUEST, id, service, method, params, headers, timeoutMs, args?]
//   [STREAM, id, service, method, params, headers, timeoutMs, args?]  (a stream request)
//   [CREDIT, id, n]        the stream's reader takes n more items
//   [CANCEL, id]           stop the call's worker (or the stream's producer)
// Server to caller:
//   [REPLY_OK, id, result], [REPLY_ERROR, id, wireError]  (also a stream's end)
//   [ITEM, id, item]       one item of a stream
// `headers` is a list too: [traceId, spanId, traceFlags, callIdStack, data, traceState?].
// `timeoutMs` is what remained of the caller's deadline when it sent the
// request (null: none), so that the two clocks need not agree.
export const REQUEST = 0;
export const REPLY_OK = 1;
export const REPLY_ERROR = 2;
export const CANCEL = 3;
export const STREAM = 4;
export const CREDIT = 5;
export const ITEM = 6;

/** `tcp://host:port` (or `tls://`, RPC over TLS) → its parts; a ConfigError for anything else. */
export function parseEndpoint(endpoint: string): { host: string; port: number; tls: boolean } {
  const m = /^(tcp|tls):\/\/(\[[^\]]+\]|[^:/]+):(\d{1,5})$/.exec(endpoint);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port < 1 || port > 65535) {
    throw new ConfigError(
      `bad rpc endpoint "${endpoint}": expected tcp://host:port or tls://host:port`,
    );
  }
  return { host: m[2]!.replace(/^\[|\]$/g, ''), port, tls: m[1] === 'tls' };
}
