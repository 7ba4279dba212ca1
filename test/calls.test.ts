// Deadlines, cancellation and streams between real `svc instance`
// processes, over `net` and `zmq`: a worker's signal aborts at its deadline
// and when its caller goes away, a nested call inherits what remains of the
// deadline, an expired request is not started, a caller's AbortSignal
// cancels the remote worker (through a nested call too), and an `async *`
// method streams its items to `svc request`, a client and `svc shell`, a
// slow reader holding its producer to a window of items, an error
// mid-stream reaching the reader, and the producer stopped when the reader
// stops. Over AMQP, streams say they need a direct transport.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CancelledError, RpcTimeoutError, ValidationError, type ClusterClient } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AMQP_URL, Cleanup, rawConnection } from './amqp/helpers.js';
import { FIXTURES, Proc, TestEnv, requireBuild } from './support/svc.js';

const FIXTURE = join(FIXTURES, 'calls');

/** The items a stream's reader grants credit for at a time (`STREAM_WINDOW` in core's rpc/stream.ts). */
const STREAM_WINDOW = 16;

/** How many log records of `proc` have exactly (or, with a RegExp, match) `msg`. */
function count(proc: Proc, msg: string | RegExp): number {
  return proc.logs().filter((l) => (typeof msg === 'string' ? l.msg === msg : msg.test(l.msg)))
    .length;
}

/** Waits until `proc` has logged `msg` more than `before` times. */
async function logged(proc: Proc, msg: string | RegExp, before = 0): Promise<void> {
  await proc.waitFor((p) => count(p, msg) > before, `a log record ${String(msg)}`);
}

/** The RPC endpoint an instance announced in its `started` record. */
function endpointOf(proc: Proc): string {
  const started = proc.logs().find((l) => l.msg.startsWith('started '));
  const m = started && /\brpc (tcp:\/\/[^,)]+)/.exec(started.msg);
  if (!m) throw new Error(`no rpc endpoint in ${started?.msg ?? 'the log'}`);
  return m[1]!;
}

for (const rpc of ['net', 'zmq'] as const) {
  describe(`deadlines, cancellation and streams over ${rpc}`, () => {
    const env = new TestEnv();
    // Each call's record printed too (`log.calls: output`): the stream tests read them.
    const options = { cwd: FIXTURE, env: { SVC_RPC: rpc, SVC_LOG_CALLS: 'output' } };
    let beta: Proc;
    let client: ClusterClient;

    beforeAll(async () => {
      requireBuild();
      [beta] = await Promise.all([
        env.instance('beta.yml', options),
        env.instance('alpha.yml', options),
      ]);
      client = await env.client({ rpc });
    });

    afterAll(async () => {
      await client?.close();
      await env.stop();
    });

    const request = (...args: string[]) => env.run(['request', ...args], options);

    it('stops a well-behaved worker once `svc request --timeout` has given up', async () => {
      const before = count(beta, /^longrun stopped: /);
      const r = await request('Beta.longrun', '{"ms": 30000}', '--timeout', '500');
      expect(r.code).toBe(1);
      // The caller's own timeout, or the worker's answer that its deadline passed when that
      // reply wins the race to the caller (the worker's deadline is the caller's, less the
      // request's way there).
      expect(r.stderr).toMatch(/did not answer within 500 ms|Beta\.longrun's deadline passed/);
      // At its deadline, or as the caller went away: whichever came first.
      await logged(beta, /^longrun stopped: (DeadlineExceededError|CancelledError): /, before);
      expect(count(beta, 'longrun finished')).toBe(0);
    });

    it("aborts the worker's signal at its deadline while its caller still waits", async () => {
      const stopped = /^longrun stopped: DeadlineExceededError: /;
      const before = count(beta, stopped);
      // The caller stays connected and sends no cancel: only the deadline can stop the worker.
      await expect(
        client.call('Beta', 'longrun', { ms: 30_000 }, { timeout: 700 }),
      ).rejects.toBeInstanceOf(RpcTimeoutError);
      await logged(beta, stopped, before);
      expect(count(beta, 'longrun finished')).toBe(0);
    });

    it("aborts the worker's signal when its caller goes away mid-call", async () => {
      const gone = /^longrun stopped: CancelledError: the caller went away$/;
      const before = count(beta, gone);
      const started = count(beta, 'longrun started');
      // A deadline a minute away: only the caller's disconnect can stop the worker in time.
      const proc = env.spawn(
        ['request', 'Beta.longrun', '{"ms": 30000}', '--timeout', '60000'],
        options,
      );
      await logged(beta, 'longrun started', started);
      proc.child.kill('SIGKILL');
      await logged(beta, gone, before);
      expect(count(beta, 'longrun finished')).toBe(0);
    });

    it('gives a nested call what remains of its worker’s deadline', async () => {
      const short = await request('Alpha.relay', '{}', '--timeout', '1500', '--json');
      expect(short.code, short.stderr).toBe(0);
      const left = JSON.parse(short.stdout) as number;
      expect(left).toBeGreaterThan(0);
      expect(left).toBeLessThanOrEqual(1500);
      // With more time than Alpha's own rpc_timeout (5 s), the nested call keeps its own.
      const long = await request('Alpha.relay', '{}', '--timeout', '20000', '--json');
      const kept = JSON.parse(long.stdout) as number;
      expect(kept).toBeGreaterThan(1500);
      expect(kept).toBeLessThanOrEqual(5000);
    });

    it('does not start a request whose deadline passed while it waited for a worker', async () => {
      const one = await env.instance('beta.yml', {
        cwd: FIXTURE,
        env: { SVC_RPC: rpc, BETA_WORKERS: '1' },
      });
      try {
        const address = endpointOf(one);
        const busy = client.call('Beta', 'busy', { ms: 1500 }, { address });
        await logged(one, 'busy started');
        // Waits in line behind `busy` for longer than its caller waits.
        await expect(
          client.call('Beta', 'mark', { tag: 'late' }, { address, timeout: 300 }),
        ).rejects.toBeInstanceOf(RpcTimeoutError);
        expect(await busy).toBe('done');
        await logged(
          one,
          'rpc Beta.mark not started: its deadline passed while it waited for a worker',
        );
        expect(count(one, 'mark late')).toBe(0);
        // In time, it runs.
        expect(await client.call('Beta', 'mark', { tag: 'in time' }, { address })).toBe('in time');
      } finally {
        one.child.kill('SIGTERM');
        await one.exited;
      }
    });

    it("cancels the remote worker when the caller's AbortSignal aborts, through a nested call too", async () => {
      const cancelled = /^longrun stopped: CancelledError: the caller cancelled the call$/;
      for (const [service, method] of [
        ['Beta', 'longrun'],
        ['Alpha', 'hold'],
      ] as const) {
        const started = count(beta, 'longrun started');
        const stopped = count(beta, cancelled);
        const controller = new AbortController();
        const call = client.call(
          service,
          method,
          { ms: 30_000 },
          {
            timeout: 60_000,
            signal: controller.signal,
          },
        );
        await logged(beta, 'longrun started', started);
        controller.abort(new CancelledError('the user gave up'));
        await expect(call).rejects.toThrow('the user gave up');
        // Beta's worker heard of it: directly, or as Alpha's worker was cancelled.
        await logged(beta, cancelled, stopped);
      }
      expect(count(beta, 'longrun finished')).toBe(0);
    });

    it('prints streamed items with `svc request` as they come, one a line', async () => {
      const proc = env.spawn(
        ['request', 'Beta.numbers', '{"n": 3, "gate": true}', '--json'],
        options,
      );
      // The third item waits for release(): the first two are printed before it exists.
      await proc.waitFor((p) => p.stdout === '1\n2\n', 'the first two items');
      expect(proc.child.exitCode).toBeNull();
      expect(await client.call('Beta', 'release', {}, { address: endpointOf(beta) })).toBe(1);
      const { code } = await proc.exited;
      expect(code, proc.stderr).toBe(0);
      expect(proc.stdout).toBe('1\n2\n3\n');
      await logged(beta, 'rpc Beta.numbers ok (3 items)');
    });

    it('stops the producer, running its finally, when the reader breaks off or goes away', async () => {
      const finallies = count(beta, /^numbers finally at /);
      const got: number[] = [];
      for await (const n of client.stream('Beta', 'numbers', { n: 1_000_000 })) {
        got.push(n as number);
        if (got.length === 3) break;
      }
      expect(got).toEqual([1, 2, 3]);
      await logged(beta, /^numbers finally at /, finallies);
      await logged(beta, /^rpc Beta\.numbers stopped after \d+ items?: the caller cancelled/);

      // A reader killed mid-stream: its connection closes, and the producer stops.
      const proc = env.spawn(['request', 'Beta.numbers', '{"n": 1000000, "delay": 20}'], options);
      await proc.waitFor((p) => p.stdout.split('\n').length > 3, 'a few items');
      proc.child.kill('SIGKILL');
      await logged(beta, /^numbers finally at /, finallies + 1);
      await logged(beta, /^rpc Beta\.numbers stopped after \d+ items?: the caller went away$/);
    });

    it('keeps the producer of a slow reader within a window of items', async () => {
      const address = endpointOf(beta);
      const ahead = async (read: number) =>
        ((await client.call('Beta', 'produced', {}, { address })) as number) - read;
      let read = 0;
      for await (const n of client.stream('Beta', 'numbers', { n: 1_000_000 }, { address })) {
        expect(n).toBe(++read);
        if (read === 3 || read === 500) {
          // The reader pauses: the producer, in the other process, waits for it (the reader
          // grants credit for a window of items at a time) instead of filling memory.
          await new Promise((r) => setTimeout(r, 500));
          expect(await ahead(read)).toBeLessThanOrEqual(STREAM_WINDOW + 1);
        }
        if (read === 500) break;
      }
      expect(read).toBe(500);
    });

    it('gives the reader an error thrown mid-stream, after the items before it', async () => {
      const got: number[] = [];
      const err = await (async () => {
        for await (const n of client.stream('Beta', 'numbers', { n: 5, failAt: 3 }))
          got.push(n as number);
      })().catch((e: unknown) => e);
      expect(got).toEqual([1, 2]);
      // Rebuilt by its code as the catalogue's class, with its message and data.
      expect(err).toBeInstanceOf(ValidationError);
      expect(err).toMatchObject({ message: 'item 3 is invalid', data: { at: 3 } });

      // `svc request` prints the items that came, then the error, and fails.
      const r = await request('Beta.numbers', '{"n": 5, "failAt": 3}', '--json');
      expect(r.stdout).toBe('1\n2\n');
      expect(r.stderr).toContain('item 3 is invalid');
      expect(r.code).not.toBe(0);
    });

    it('reads a stream in `svc shell` and marks the method as streaming in `svc inspect`', async () => {
      const shell = await env.run(
        [
          'shell',
          '-c',
          'const out = []; for await (const n of rpc.Beta.numbers.stream({ n: 3 })) out.push(n); return out',
        ],
        options,
      );
      expect(shell.code, shell.stderr).toBe(0);
      expect(JSON.parse(shell.stdout)).toEqual([1, 2, 3]);
      const inspect = await env.run(['inspect', 'Beta'], options);
      expect(inspect.stdout).toMatch(/^rpc Beta\.numbers\(n: number, .*\) -> stream$/m);
      expect(inspect.stdout).toMatch(/^rpc Beta\.mark\(tag: string\)$/m);
    });
  });
}

describe('streams over AMQP', () => {
  const env = new TestEnv();
  const cleanup = new Cleanup();
  const dir = mkdtempSync(join(tmpdir(), 'svc-calls-'));
  // A name of its own on the shared broker.
  const service = `Beta_${randomBytes(4).toString('hex')}`;
  const options = { cwd: dir, env: { SVC_RPC: AMQP_URL, BETA_SERVICE: service } };

  beforeAll(async () => {
    requireBuild();
    const { conn } = await rawConnection();
    await conn.close();
    const config = join(dir, 'beta.yml');
    writeFileSync(
      config,
      [
        'registry: local',
        'rpc: ${SVC_RPC}',
        'events: local',
        'interfaces:',
        `  ${service}:`,
        `    class: ${join(FIXTURE, 'services.ts')}#Beta`,
        '',
      ].join('\n'),
    );
    cleanup.add({ queues: [`rpc-${service}`, `rpc-${service}.dead`] });
    await env.instance(config, options);
  });

  afterAll(async () => {
    await env.stop();
    await cleanup.run();
    rmSync(dir, { recursive: true, force: true });
  });

  it('says that streams need a direct transport, and carries plain calls with their deadline', async () => {
    const r = await env.run(['request', `${service}.numbers`, '{"n": 2}'], options);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('streams need a direct transport (rpc: net or zmq)');
    const left = await env.run(
      ['request', `${service}.deadline`, '{}', '--timeout', '1500', '--json'],
      options,
    );
    expect(left.code, left.stderr).toBe(0);
    expect(JSON.parse(left.stdout)).toBeGreaterThan(0);
    expect(JSON.parse(left.stdout)).toBeLessThanOrEqual(1500);
  });
});
