import { describe, expect, expectTypeOf, it } from 'vitest';
import type { BackendContext } from './backends.js';
import { ConfigReader } from './config/load.js';
import { ConfigError } from './errors.js';
import { DEFAULT_LIMITS, type Limits } from './index.js';
import { parseLimits } from './limits.js';

const reader = new ConfigReader('/tmp/conf/x.yml');

describe('limits', () => {
  it('reads limits: with defaults for what it does not name', () => {
    const limits = parseLimits(reader, { max_connections: 10, idle_timeout: '2000' });
    expect(limits).toEqual({ ...DEFAULT_LIMITS, maxConnections: 10, idleTimeout: 2000 });
    expect(parseLimits(reader, undefined)).toEqual(DEFAULT_LIMITS);
  });

  it('refuses unknown keys and values out of range with the key named', () => {
    expect(() => parseLimits(reader, { max_conections: 10 })).toThrow(
      /limits\.max_conections: unknown key \(expected one of: max_frame_bytes, /,
    );
    expect(() => parseLimits(reader, { max_connections: 0 })).toThrow(ConfigError);
    expect(() => parseLimits(reader, { write_buffer_bytes: 'lots' })).toThrow(
      /limits\.write_buffer_bytes: expected an integer/,
    );
  });

  it('reads the HTTP entrypoint limits, keeping the headers timeout within the request timeout', () => {
    expect(parseLimits(reader, undefined)).toMatchObject({
      httpMaxConnections: 1024,
      httpHeadersTimeout: 10_000,
      httpRequestTimeout: 30_000,
    });
    const limits = parseLimits(reader, {
      http_max_connections: '8',
      http_headers_timeout: 1000,
      http_request_timeout: 2000,
    });
    expect(limits).toMatchObject({
      httpMaxConnections: 8,
      httpHeadersTimeout: 1000,
      httpRequestTimeout: 2000,
    });
    // A request timeout set alone below the default headers timeout takes it down with it.
    expect(parseLimits(reader, { http_request_timeout: 4000 }).httpHeadersTimeout).toBe(4000);
    expect(() =>
      parseLimits(reader, { http_headers_timeout: 5000, http_request_timeout: 4000 }),
    ).toThrow(
      /limits\.http_headers_timeout: expected at most limits\.http_request_timeout \(4000\): the headers are part of the request, got number 5000/,
    );
    expect(() => parseLimits(reader, { http_max_connections: 0 })).toThrow(
      /limits\.http_max_connections: expected an integer from 1 to 1000000, got number 0/,
    );
    expect(() => parseLimits(reader, { http_request_timeout: '30s' })).toThrow(
      /limits\.http_request_timeout: expected an integer from 100 to 86400000, got string "30s"/,
    );
  });

  it('keeps the log ring able to answer within one frame', () => {
    const limits = parseLimits(reader, { max_frame_bytes: 1024 * 1024, log_ring_bytes: 8e6 });
    expect(limits.logRingBytes).toBe(512 * 1024);
  });

  it('is typed for a backend context as a partial set', () => {
    expectTypeOf<BackendContext['limits']>().toEqualTypeOf<Partial<Limits> | undefined>();
    expectTypeOf(DEFAULT_LIMITS.maxFrameBytes).toBeNumber();
    // @ts-expect-error -- the defaults are read-only (and frozen)
    expect(() => (DEFAULT_LIMITS.maxConnections = 1)).toThrow(TypeError);
  });
});
