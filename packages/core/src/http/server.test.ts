import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { http, rpc } from '../decorators.js';
import type { HttpRequestInfo as HttpInfo } from '../hooks.js';
import { SvcError, UnknownServiceError } from '../errors.js';
import { CALL_RECORD } from '../log/logger.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { DEFAULT_LIMITS } from '../limits.js';
import { testCluster } from '../testing/index.js';
import { HttpError, type HttpRequest, type HttpResponse } from './types.js';

class Api extends Service {
  static override serviceName = 'Api';
  @http('GET', '/get/:value') get(req: HttpRequest) {
    return { value: req.params['value'], q: req.query['q'] ?? null };
  }
  @http('POST', '/echo') echo(req: HttpRequest, res: HttpResponse) {
    res.status(201).setHeader('X-Echo', '1').json({ body: req.body });
  }
  @http('GET', '/boom') boom() {
    throw new Error('handler bug');
  }
  @http('GET', '/teapot') teapot() {
    throw new HttpError(418, 'short and stout');
  }
  @http('GET', '/trace') trace(req: HttpRequest) {
    return req.traceId;
  }
}

async function api(options: { trust?: boolean; requestTimeout?: number } = {}) {
  const requests: HttpInfo[] = [];
  const cluster = await testCluster([Api], {
    config: {
      http: { host: '127.0.0.1', port: 0, trustTraceHeader: options.trust ?? false },
      limits: {
        ...DEFAULT_LIMITS,
        httpRequestTimeout: options.requestTimeout ?? DEFAULT_LIMITS.httpRequestTimeout,
      },
    },
    plugins: [{ onHttpRequest: (i) => void requests.push(i) }],
  });
  return { cluster, url: cluster.instances[0]!.httpUrl!, requests };
}

describe('the HTTP entrypoint', () => {
  it('marks the access record of a request that succeeded as a call record, not that of a 4xx', async () => {
    const { cluster, url } = await api();
    await using _ = cluster;
    expect((await fetch(`${url}/get/1`)).status).toBe(200);
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    const access = (line: string) =>
      cluster.logs.find((r) => r.msg === line) as { [CALL_RECORD]?: boolean } | undefined;
    // Marked: kept in the history, printed only with log.calls: output.
    expect(access('http GET /get/1 200')?.[CALL_RECORD]).toBe(true);
    // A 404 from routing has no worker record: its access record is always printed.
    expect(access('http GET /nowhere 404')?.[CALL_RECORD]).toBe(false);
  });

  it('serves path parameters, query strings and JSON bodies, with X-Trace-Id on every response', async () => {
    const { cluster, url, requests } = await api();
    await using _ = cluster;
    const got = await fetch(`${url}/get/42?q=x%20y`);
    expect(await got.json()).toEqual({ value: '42', q: 'x y' });
    expect(got.headers.get('x-trace-id')).toMatch(/^[0-9a-f]{32}$/);
    const posted = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"a":[1]}',
    });
    expect(posted.status).toBe(201);
    expect(posted.headers.get('x-echo')).toBe('1');
    expect(await posted.json()).toEqual({ body: { a: [1] } });
    expect(requests.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([
      'GET /get/42 200',
      'POST /echo 201',
    ]);
  });

  it('answers a throwing handler with 500 and logs the error with its trace id', async () => {
    const { cluster, url } = await api();
    await using _ = cluster;
    const res = await fetch(`${url}/boom`);
    expect(res.status).toBe(500);
    const traceId = res.headers.get('x-trace-id');
    expect(await res.json()).toEqual({ error: 'internal server error', status: 500, traceId });
    // Once, by its worker: the server does not log it again.
    const logged = cluster.logs.filter((r) => r.level === 'error' && r.msg.includes('handler bug'));
    expect(logged).toHaveLength(1);
    expect(logged[0]?.traceId).toBe(traceId);
    expect((await fetch(`${url}/teapot`)).status).toBe(418);
  });

  it('answers malformed requests with a 4xx that says why', async () => {
    const { cluster, url } = await api();
    await using _ = cluster;
    const badJson = await fetch(`${url}/echo`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{oops',
    });
    expect(badJson.status).toBe(400);
    expect(((await badJson.json()) as { error: string }).error).toMatch(/^malformed JSON body: /);
    const tooBig = await fetch(`${url}/echo`, {
      method: 'POST',
      body: 'x'.repeat(1024 * 1024 + 1),
    });
    expect(tooBig.status).toBe(413);
    expect((await fetch(`${url}/nowhere`)).status).toBe(404);
    const wrong = await fetch(`${url}/echo`);
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });

  it('answers what it cannot read as Node does: 400 a bad request line, 431 headers over 16 KiB, 408 a body too slow (not after a response)', async () => {
    const { cluster, url } = await api({ requestTimeout: 500 });
    await using _ = cluster;
    const { port } = new URL(url);
    /** Sends `head`, then a byte of body every 50 ms; what came back once closed, and when. */
    const exchange = (head: string) =>
      new Promise<{ got: string; ms: number }>((resolve) => {
        const started = performance.now();
        const socket = connect(Number(port), '127.0.0.1');
        let got = '';
        socket.setEncoding('latin1').on('data', (d: string) => (got += d));
        socket.on('error', () => {});
        const drip = setInterval(() => socket.writable && socket.write('b'), 50);
        socket.on('close', () => {
          clearInterval(drip);
          resolve({ got, ms: performance.now() - started });
        });
        socket.write(head);
      });
    const statuses = (got: string) => got.match(/HTTP\/1\.1 \d{3}/g);
    const bad = await exchange('NOT HTTP\r\n\r\n');
    expect(statuses(bad.got)).toEqual(['HTTP/1.1 400']);
    const big = await exchange(`GET /get/1 HTTP/1.1\r\nX-Big: ${'h'.repeat(17 * 1024)}\r\n\r\n`);
    expect(statuses(big.got)).toEqual(['HTTP/1.1 431']);
    const slow = await exchange('POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n');
    expect(statuses(slow.got)).toEqual(['HTTP/1.1 408']);
    expect(slow.ms).toBeGreaterThanOrEqual(450);
    // Answered 404 before its body was read: the body still coming times out, and the
    // connection closes without a second answer after the first.
    const answered = await exchange(
      'POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n',
    );
    expect(statuses(answered.got)).toEqual(['HTTP/1.1 404']);
  });

  it('honours an incoming X-Trace-Id only when configured to', async () => {
    const plain = await api();
    await using _a = plain.cluster;
    const ignored = await fetch(`${plain.url}/trace`, {
      headers: { 'x-trace-id': 'from-outside' },
    });
    expect(await ignored.text()).not.toBe('from-outside');
    const trusting = await api({ trust: true });
    await using _b = trusting.cluster;
    const kept = await fetch(`${trusting.url}/trace`, {
      headers: { 'x-trace-id': 'from-outside' },
    });
    expect(await kept.text()).toBe('from-outside');
    expect(kept.headers.get('x-trace-id')).toBe('from-outside');
  });
});

describe('errors of HTTP handlers', () => {
  class NoSuchUser extends SvcError {
    static override code = 'USERS_NO_SUCH_USER';
    static override expected = true;
    static override httpStatus = 404;
  }
  class Strict extends Service {
    static override serviceName = 'Strict';
    @http('GET', '/need') need() {
      throw new HttpError(400, 'query parameter "name" is required');
    }
    @http('GET', '/user') user() {
      throw new NoSuchUser('no user 7');
    }
    @http('GET', '/down') down() {
      throw new HttpError(503, 'down for maintenance');
    }
    @http('GET', '/upstream') upstream() {
      throw new BadUpstream('the payment provider answered garbage at 10.0.0.7');
    }
  }
  class BadUpstream extends SvcError {
    static override httpStatus = 502;
  }

  it('logs a 4xx HttpError as expected (WARN, no stack, no onError) and a 5xx as a fault', async () => {
    const failures: unknown[] = [];
    await using cluster = await testCluster([Strict], {
      config: { http: { host: '127.0.0.1', port: 0, trustTraceHeader: false } },
      plugins: [{ onError: (err) => void failures.push(err) }],
    });
    const url = cluster.instances[0]!.httpUrl!;
    expect((await fetch(`${url}/need`)).status).toBe(400);
    const warned = cluster.logs.find((r) => r.msg.includes('"name" is required'));
    expect(warned?.level).toBe('warn');
    expect(warned).not.toHaveProperty('stack');
    expect(failures).toEqual([]);

    const down = await fetch(`${url}/down`);
    expect(down.status).toBe(503);
    const faulted = cluster.logs.find((r) => r.msg.includes('down for maintenance'));
    expect(faulted?.level).toBe('error');
    expect(faulted?.['stack']).toContain('HttpError: down for maintenance');
    expect(failures).toHaveLength(1);
  });

  it("answers with the status an error's class names, and its message", async () => {
    await using cluster = await testCluster([Strict], {
      config: { http: { host: '127.0.0.1', port: 0, trustTraceHeader: false } },
    });
    const res = await fetch(`${cluster.instances[0]!.httpUrl!}/user`);
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: 'no user 7', status: 404 });
    expect(cluster.logs.find((r) => r.msg.includes('no user 7'))?.level).toBe('warn');

    // A 5xx of its own: that status with its standard phrase; the message, a fault's, is logged.
    const upstream = await fetch(`${cluster.instances[0]!.httpUrl!}/upstream`);
    expect(upstream.status).toBe(502);
    expect(await upstream.json()).toEqual({
      error: 'bad gateway',
      status: 502,
      traceId: upstream.headers.get('x-trace-id'),
    });
    const logged = cluster.logs.filter((r) => r.msg.includes('payment provider'));
    expect(logged.map((r) => r.level)).toEqual(['error']);
  });

  class Middle extends Service {
    static override serviceName = 'Middle';
    declare [RPC]: 'audit';
    @rpc() async audit() {
      return await this.call('Audit', 'record', {});
    }
  }
  class Front extends Service {
    static override serviceName = 'Front';
    @http('GET', '/direct') async direct() {
      return await this.call('Audit', 'record', {});
    }
    @http('GET', '/nested') async nested() {
      return await this.call('Middle', 'audit', {});
    }
  }

  it('answers a call that found no live instance with 503 and Retry-After, logged at WARN', async () => {
    const failures: unknown[] = [];
    await using cluster = await testCluster([Front, Middle], {
      config: { http: { host: '127.0.0.1', port: 0, trustTraceHeader: false } },
      plugins: [{ onError: (err) => void failures.push(err) }],
    });
    const url = cluster.instances[0]!.httpUrl!;
    const direct = await fetch(`${url}/direct`);
    expect(direct.status).toBe(503);
    expect(direct.headers.get('retry-after')).toBe('1');
    expect(await direct.json()).toEqual({
      error: 'service "Audit" is unavailable',
      status: 503,
      traceId: direct.headers.get('x-trace-id'),
    });
    // Middle's worker fails as before (an error, for its caller to handle); Front's answer,
    // rebuilt from the wire, does not know which service it was.
    const nested = await fetch(`${url}/nested`);
    expect(nested.status).toBe(503);
    expect(nested.headers.get('retry-after')).toBe('1');
    expect(((await nested.json()) as { error: string }).error).toBe(
      'a service this request needs is unavailable',
    );
    const records = (entrypoint: string) =>
      cluster.logs.filter((r) => r['entrypoint'] === entrypoint && r.level !== 'info');
    expect(records('Front.direct').map((r) => [r.level, r.msg, r['stack']])).toEqual([
      ['warn', 'http Front.direct failed: no live instance of service "Audit"', undefined],
    ]);
    expect(records('Front.nested').map((r) => r.level)).toEqual(['warn']);
    expect(records('Middle.audit').map((r) => r.level)).toEqual(['error']);
    expect(failures).toHaveLength(1);
    expect(failures[0]).toBeInstanceOf(UnknownServiceError);
  });
});
