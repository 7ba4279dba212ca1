import type { ConfigReader } from './config/load.js';
import { DEFAULT_MAX_MESSAGE_BYTES } from './serializers/serializer.js';

/**
 * What bounds one process's memory and sockets against a peer that sends
 * too much, too slowly, or never reads (config `limits:`; docs/limits.md
 * lists them with their defaults).
 */
export interface Limits {
  /** largest frame an RPC transport accepts or sends, in bytes */
  maxFrameBytes: number;
  /** connections a `net` server holds at once; more are closed at once */
  maxConnections: number;
  /** milliseconds a `net` connection with nothing running and no traffic is kept */
  idleTimeout: number;
  /** unsent bytes one peer may leave queued (it does not read) before it is dropped */
  writeBufferBytes: number;
  /** bytes of unfinished frames held across every connection of the process */
  partialFrameBytes: number;
  /** a log record longer than this (as JSON) is kept truncated, with a marker */
  logRecordBytes: number;
  /** bytes of records the in-memory log ring (`svc.recent_logs`) holds */
  logRingBytes: number;
  /** delayed events an instance holds for later delivery; more are refused */
  delayedEvents: number;
  /** bytes of delayed events (their bodies, encoded) an instance holds; more are refused */
  delayedEventBytes: number;
  /** connections the HTTP entrypoint holds at once, per process; more are closed at once */
  httpMaxConnections: number;
  /** milliseconds a client has to send a request's headers, from its first byte (408 after) */
  httpHeadersTimeout: number;
  /** milliseconds a client has to send a whole request, headers and body (408 after) */
  httpRequestTimeout: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxFrameBytes: DEFAULT_MAX_MESSAGE_BYTES,
  maxConnections: 1024,
  idleTimeout: 300_000,
  writeBufferBytes: 64 * 1024 * 1024,
  partialFrameBytes: 64 * 1024 * 1024,
  logRecordBytes: 64 * 1024,
  logRingBytes: 4 * 1024 * 1024,
  delayedEvents: 10_000,
  delayedEventBytes: 64 * 1024 * 1024,
  httpMaxConnections: 1024,
  httpHeadersTimeout: 10_000,
  httpRequestTimeout: 30_000,
});

/** The config keys of `limits:`, in the order docs/limits.md lists them. */
const KEYS: Record<keyof Limits, { key: string; min: number; max: number }> = {
  maxFrameBytes: { key: 'max_frame_bytes', min: 1024, max: 1024 * 1024 * 1024 },
  maxConnections: { key: 'max_connections', min: 1, max: 1_000_000 },
  idleTimeout: { key: 'idle_timeout', min: 100, max: 86_400_000 },
  writeBufferBytes: { key: 'write_buffer_bytes', min: 1024, max: 4 * 1024 * 1024 * 1024 },
  partialFrameBytes: { key: 'partial_frame_bytes', min: 1024, max: 16 * 1024 * 1024 * 1024 },
  logRecordBytes: { key: 'log_record_bytes', min: 256, max: 64 * 1024 * 1024 },
  logRingBytes: { key: 'log_ring_bytes', min: 1024, max: 1024 * 1024 * 1024 },
  delayedEvents: { key: 'delayed_events', min: 0, max: 10_000_000 },
  delayedEventBytes: { key: 'delayed_event_bytes', min: 0, max: 16 * 1024 * 1024 * 1024 },
  httpMaxConnections: { key: 'http_max_connections', min: 1, max: 1_000_000 },
  httpHeadersTimeout: { key: 'http_headers_timeout', min: 100, max: 3_600_000 },
  httpRequestTimeout: { key: 'http_request_timeout', min: 100, max: 86_400_000 },
};

export const LIMIT_KEYS = Object.values(KEYS).map((k) => k.key);

/** Reads the `limits:` section of an instance config; every key is optional. */
export function parseLimits(reader: ConfigReader, section: unknown): Limits {
  const doc = reader.object(section, 'limits');
  reader.onlyKeys(doc, 'limits', LIMIT_KEYS);
  const out = { ...DEFAULT_LIMITS };
  for (const [name, { key, min, max }] of Object.entries(KEYS) as [
    keyof Limits,
    (typeof KEYS)[keyof Limits],
  ][]) {
    out[name] = reader.integer(doc[key], `limits.${key}`, DEFAULT_LIMITS[name], min, max);
  }
  // A budget for unfinished frames smaller than one frame would refuse every big frame.
  out.partialFrameBytes = Math.max(out.partialFrameBytes, out.maxFrameBytes);
  // The ring must hold at least one whole record, and a recent_logs reply must fit a frame.
  out.logRecordBytes = Math.min(out.logRecordBytes, out.logRingBytes);
  out.logRingBytes = Math.min(out.logRingBytes, Math.floor(out.maxFrameBytes / 2));
  // The headers are part of the request: a longer time for them than for all of it would never
  // act (and Node's HTTP server refuses one). Asked for both ways, it is a mistake; a request
  // timeout set alone below the default headers timeout takes it down with it.
  if (out.httpHeadersTimeout > out.httpRequestTimeout) {
    if (doc['http_headers_timeout'] !== undefined && doc['http_headers_timeout'] !== null) {
      reader.fail(
        'limits.http_headers_timeout',
        `at most limits.http_request_timeout (${out.httpRequestTimeout}): the headers are part of the request`,
        doc['http_headers_timeout'],
      );
    }
    out.httpHeadersTimeout = out.httpRequestTimeout;
  }
  return out;
}

/** The limits in force: the defaults with what a caller overrode. */
export function limitsOf(partial: Partial<Limits> | undefined): Limits {
  return { ...DEFAULT_LIMITS, ...partial };
}
