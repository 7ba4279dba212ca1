import { Agent, request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv, requireBuild, type LogLine, type Proc } from '../support/svc.js';
import { TARGET, endpointOf, until } from './helpers.js';

// Hostile clients on the public HTTP entrypoint of an instance (an @http
// route), with its limits set low in its config (test/fixtures/hostile/
// target.yml, from the environment): too many connections, headers or a
// body sent too slowly. Each is closed, said in one log line, and clients
// that behave are served throughout.

/** A client connection that sends what the test says and keeps what it receives. */
class RawHttp {
  readonly socket: Socket;
  readonly opened: Promise<void>;
  readonly started = performance.now();
  received = '';
  /** ms from its start to its close, once closed */
  closedAfter: number | undefined;

  constructor(url: string) {
    const { hostname, port } = new URL(url);
    this.socket = connect({ host: hostname, port: Number(port) });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (d: string) => (this.received += d));
    this.socket.on('error', () => {});
    this.socket.on('close', () => (this.closedAfter = performance.now() - this.started));
    this.opened = new Promise((resolve, reject) => {
      this.socket.once('connect', resolve);
      this.socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedAfter !== undefined;
  }

  /** Sends `GET /greet?name=NAME` on this connection and waits for its answer. */
  async greet(name: string): Promise<void> {
    this.socket.write(`GET /greet?name=${name} HTTP/1.1\r\nHost: target\r\n\r\n`);
    await until(() => this.received.includes(`Hi, ${name}!`), `the answer to ${name}`, 5000);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** GET on a connection of `agent`'s (a new one for each without it). */
function get(url: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: agent ?? false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.setTimeout(5000, () => req.destroy(new Error('no answer within 5 s')));
    req.end();
  });
}

const closedLines = (p: Proc): LogLine[] =>
  p.logs().filter((l) => l.msg === 'http connections closed');
const sum = (lines: LogLine[], field: string) =>
  lines.reduce((n, l) => n + Number(l[field] ?? 0), 0);

/**
 * The fixture's instance, started for a describe with `limits` (environment variables its
 * config reads), and the address of its @http routes; stopped after the describe.
 */
function hostileTarget(limits: Record<string, string>): { target: Proc; url: string } {
  const env = new TestEnv();
  const started = {} as { target: Proc; url: string };
  beforeAll(async () => {
    requireBuild();
    started.target = await env.instance('target.yml', { cwd: TARGET, env: limits });
    started.url = await endpointOf(env, 'Target', 'http');
  });
  afterAll(() => env.stop());
  return started;
}

describe('more connections than the HTTP cap', () => {
  const t = hostileTarget({ HTTP_MAX_CONNECTIONS: '8' });

  it('closes connections past the cap at once, serves those under it, and new clients once they go, in one log line', async () => {
    const held: RawHttp[] = [];
    const over: RawHttp[] = [];
    try {
      // Eight kept-alive connections, served: the cap.
      for (let i = 0; i < 8; i++) {
        const client = new RawHttp(t.url);
        held.push(client);
        await client.opened;
        await client.greet(`held${i}`);
      }
      // Twenty more, at once: each closed as it arrives, before a byte is read.
      for (let i = 0; i < 20; i++) over.push(new RawHttp(t.url));
      await until(() => over.every((c) => c.closed), 'the connections over the cap to close', 3000);
      expect(over.map((c) => c.received)).toEqual(Array(20).fill(''));
      // Those under the cap are still served, on the same connections.
      for (const [i, client] of held.entries()) await client.greet(`again${i}`);
      expect(held.filter((c) => c.closed)).toEqual([]);
      // One line for the burst, not one per connection.
      await t.target.waitFor((p) => sum(closedLines(p), 'refusedOverCap') === 20, 'the log line');
      const lines = closedLines(t.target);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'warn', refusedOverCap: 20, maxConnections: 8 });
      expect(lines[0]!['sources']).toEqual(['127.0.0.1']);
    } finally {
      for (const c of [...held, ...over]) c.destroy();
    }
    // The attacker's connections gone, a new client is served again.
    let served: { status: number; body: string } | undefined;
    const deadline = Date.now() + 5000;
    while (!served && Date.now() < deadline) {
      served = await get(`${t.url}/greet?name=after`).catch(() => undefined);
      if (!served) await new Promise((r) => setTimeout(r, 50));
    }
    expect(served).toEqual({ status: 200, body: 'Hi, after!' });
  });
});

describe('clients that send a request too slowly', () => {
  const t = hostileTarget({ HTTP_HEADERS_TIMEOUT: '1000', HTTP_REQUEST_TIMEOUT: '2000' });

  it('are answered 408 and disconnected after the headers or request timeout, while a normal client is served throughout', async () => {
    // A normal client on a kept-alive connection of its own, asking every 50 ms.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const answers: Array<number | string> = [];
    let stop = false;
    const normal = (async () => {
      for (let n = 0; !stop; n++) {
        const got = await get(`${t.url}/greet?name=n${n}`, agent).catch(
          (err: Error) => err.message,
        );
        answers.push(typeof got === 'string' ? got : got.status);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    // A kept-alive connection left idle between two requests, for longer than the headers
    // timeout: no request is coming on it, so no timeout runs (only keep-alive's 5 s).
    const idle = new RawHttp(t.url);
    const attackers: RawHttp[] = [];
    try {
      await idle.opened;
      await idle.greet('before');
      // Sends part of its headers, then nothing.
      const partial = new RawHttp(t.url);
      // Sends its headers a byte every 100 ms: never done, never idle.
      const dribbler = new RawHttp(t.url);
      // Sends its headers at once, then its body a byte every 100 ms.
      const slowBody = new RawHttp(t.url);
      attackers.push(partial, dribbler, slowBody);
      await Promise.all(attackers.map((c) => c.opened));
      partial.socket.write('GET /greet?name=slow HTTP/1.1\r\nHost: target\r\n');
      dribbler.socket.write('GET /greet?name=drip HTTP/1.1\r\n');
      slowBody.socket.write(
        'POST /echo HTTP/1.1\r\nHost: target\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n',
      );
      const drip = setInterval(() => {
        if (!dribbler.closed) dribbler.socket.write('X');
        if (!slowBody.closed) slowBody.socket.write('b');
      }, 100);
      try {
        await until(() => attackers.every((c) => c.closed), 'the slow clients to be closed', 8000);
      } finally {
        clearInterval(drip);
      }
      // Node's defaults would have held them 60 s (headers) and 300 s (the body).
      for (const headersOnly of [partial, dribbler]) {
        expect(headersOnly.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
        expect(headersOnly.closedAfter).toBeGreaterThanOrEqual(900);
        expect(headersOnly.closedAfter).toBeLessThan(3000);
      }
      expect(slowBody.received).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n/);
      // Its headers came in time: the request timeout closed it, not the headers'.
      expect(slowBody.closedAfter).toBeGreaterThanOrEqual(1900);
      expect(slowBody.closedAfter).toBeLessThan(4000);
      // The access record of the body's 408 too: an info line, written up to 10 ms after the
      // warning that sums the timeouts (CI once checked for it in between).
      await t.target.waitFor(
        (p) =>
          sum(closedLines(p), 'headersTimedOut') === 2 &&
          sum(closedLines(p), 'requestTimedOut') === 1 &&
          p.hasLog((l) => l.msg === 'http POST /echo 408'),
        'the timeouts and the 408 to be logged',
      );
      expect(closedLines(t.target).length).toBeLessThanOrEqual(2);
      expect(closedLines(t.target)[0]).toMatchObject({
        level: 'warn',
        headersTimeoutMs: 1000,
        requestTimeoutMs: 2000,
      });
      // The body's read that failed is the access record's 408 (waited for above), not an error
      // of the server's.
      expect(t.target.hasLog((l) => l.level === 'error')).toBe(false);
      await idle.greet('after');
      expect(idle.closed).toBe(false);
    } finally {
      idle.destroy();
      for (const c of attackers) c.destroy();
      stop = true;
      await normal;
      agent.destroy();
    }
    // Served throughout, on one connection kept alive.
    expect(answers.filter((a) => a !== 200)).toEqual([]);
    expect(answers.length).toBeGreaterThan(10);
  });
});
