import { describe, expect, it } from 'vitest';
import { CancelToken } from '../../cancel.js';
import { CancelledError, RemoteError, RpcTimeoutError } from '../../errors.js';
import { STREAM_WINDOW } from '../../rpc/stream.js';
import type { ItemSource, RpcRequest } from '../../rpc/transport.js';
import type { RpcPeer } from './rpc.js';
import { serve } from './rpc.js';
import { eventually, sleep, uniqueName } from './util.js';

const headers = { traceId: 't-2', callIdStack: ['caller.call.2'], data: {} };

function request(service: string, method: string, params: unknown = {}): RpcRequest {
  return { service, method, params, headers };
}

/** A producer for a stream answer, and what happened to it. */
interface Producer {
  items: ItemSource;
  /** items the generator was asked for and gave */
  produced: number;
  /** why it was stopped early, if it was */
  stoppedWhy: string | undefined;
  /** whether its generator's finally block ran */
  finallyRan: boolean;
}

/** An ItemSource over `generate`, counting what it produced and noting how it stopped. */
function producer(generate: () => AsyncGenerator<unknown, unknown>): Producer {
  const gen = generate();
  const p: Producer = {
    produced: 0,
    stoppedWhy: undefined,
    finallyRan: false,
    items: {
      next: async () => {
        const next = await gen.next();
        if (!next.done) p.produced++;
        return next;
      },
      return: async (why) => {
        p.stoppedWhy = why;
        await gen.return(undefined);
      },
    },
  };
  return p;
}

async function readAll(iterator: AsyncIterator<unknown, unknown>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
    out.push(next.value);
  }
  return out;
}

/**
 * Deadlines, cancellation and streams: what every transport does with a
 * call's limits. Direct transports (those with `stream`) also tell the
 * server of a cancel and stream items with flow control; AMQP carries the
 * deadline only.
 */
export function describeCallLimits(peer: () => Promise<RpcPeer>): void {
  describe('deadlines and cancellation', () => {
    it('fails a call whose cancel token aborted already, without sending it', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Never');
      let served = 0;
      await serve(server, service, () => {
        served++;
        return { ok: true, result: null };
      });
      const cancel = new CancelToken();
      const reason = new CancelledError('given up before');
      cancel.abort(reason);
      await expect(client.rpc.call(request(service, 'x'), { timeout: 5000, cancel })).rejects.toBe(
        reason,
      );
      // A call that did go out afterwards is answered: the first never reached the server.
      await client.rpc.call(request(service, 'x'), { timeout: 5000 });
      expect(served).toBe(1);
    });

    it('rejects a call with its token’s reason when it aborts, and a direct server hears of it', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Cancel');
      let seen: RpcRequest | undefined;
      await serve(server, service, (req) => {
        seen = req;
        return new Promise(() => {});
      });
      const cancel = new CancelToken();
      const call = client.rpc.call(request(service, 'wait'), { timeout: 10_000, cancel });
      expect(await eventually(() => seen !== undefined, 5000)).toBe(true);
      const reason = new CancelledError('the user gave up');
      cancel.abort(reason);
      await expect(call).rejects.toBe(reason);
      if (client.rpc.stream) {
        expect(await eventually(() => seen!.cancel?.aborted === true, 5000)).toBe(true);
        expect(seen!.cancel!.reason).toBeInstanceOf(CancelledError);
      }
    });
  });

  describe('streams', () => {
    /**
     * A server answering every stream request with `make`'s producer, and
     * the stream a client opened there; undefined on a transport that
     * cannot stream (AMQP), whose streams tests then have nothing to test.
     */
    async function open(
      make: (req: RpcRequest) => Producer,
      params: unknown = {},
      options: { timeout?: number; cancel?: CancelToken } = {},
    ): Promise<
      | { items: AsyncIterator<unknown, unknown>; made: Producer[]; requests: RpcRequest[] }
      | undefined
    > {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return undefined;
      const service = uniqueName('Streaming');
      const made: Producer[] = [];
      const requests: RpcRequest[] = [];
      await serve(server, service, (req) => {
        if (!req.stream) return { ok: true, result: 'plain' };
        requests.push(req);
        const p = make(req);
        made.push(p);
        return { ok: 'stream', items: p.items };
      });
      const items = client.rpc.stream(request(service, 'items', params), {
        timeout: options.timeout ?? 10_000,
        ...(options.cancel ? { cancel: options.cancel } : {}),
      });
      return { items, made, requests };
    }

    it('streams every item in order, then ends with what the method returned', async () => {
      const s = await open(
        (req) =>
          producer(async function* () {
            const { n } = req.params as { n: number };
            for (let i = 1; i <= n; i++) yield { i };
            return 'counted';
          }),
        { n: 40 },
      );
      if (!s) return;
      const got: unknown[] = [];
      let next = await s.items.next();
      for (; !next.done; next = await s.items.next()) got.push(next.value);
      expect(got).toEqual(Array.from({ length: 40 }, (_, i) => ({ i: i + 1 })));
      expect(next.value).toBe('counted');
      expect(s.made[0]!.stoppedWhy).toBeUndefined();
    });

    it('advances the producer only as far as the reader’s credit allows', async () => {
      const s = await open(() =>
        producer(async function* () {
          for (let i = 0; ; i++) yield i;
        }),
      );
      if (!s) return;
      let read = 0;
      for (; read < 3; read++) await s.items.next();
      // A reader that stops reading for a while: the producer waits for it.
      await sleep(300);
      expect(s.made[0]!.produced - read).toBeLessThanOrEqual(STREAM_WINDOW + 1);
      for (; read < 200; read++) await s.items.next();
      await sleep(100);
      expect(s.made[0]!.produced - read).toBeLessThanOrEqual(STREAM_WINDOW + 1);
      await s.items.return?.();
      expect(await eventually(() => s.made[0]!.stoppedWhy !== undefined)).toBe(true);
    });

    it('ends the stream with the error its producer threw, after the items before it', async () => {
      const s = await open(() =>
        producer(async function* () {
          yield 1;
          yield 2;
          throw new RangeError('the third item failed');
        }),
      );
      if (!s) return;
      expect((await s.items.next()).value).toBe(1);
      expect((await s.items.next()).value).toBe(2);
      const err = (await s.items.next().catch((e: unknown) => e)) as RemoteError;
      expect(err).toBeInstanceOf(RemoteError);
      expect(err.remoteType).toBe('RangeError');
      expect(err.remoteMessage).toBe('the third item failed');
      expect(await s.items.next()).toMatchObject({ done: true });
    });

    it('stops the producer, running its finally, when the reader breaks off', async () => {
      const s = await open(() => {
        const p: Producer = producer(async function* () {
          try {
            for (let i = 0; ; i++) yield i;
          } finally {
            p.finallyRan = true;
          }
        });
        return p;
      });
      if (!s) return;
      await s.items.next();
      await s.items.next();
      await s.items.return?.();
      expect(await eventually(() => s.made[0]?.finallyRan === true, 5000)).toBe(true);
      expect(s.made[0]!.stoppedWhy).toBeDefined();
    });

    it('stops the producer when the caller cancels, and fails the reader with the reason', async () => {
      const cancel = new CancelToken();
      const s = await open(
        () =>
          producer(async function* () {
            yield 'first';
            await new Promise(() => {});
          }),
        {},
        { cancel },
      );
      if (!s) return;
      expect((await s.items.next()).value).toBe('first');
      const waiting = s.items.next();
      const reason = new CancelledError('stop it');
      cancel.abort(reason);
      await expect(waiting).rejects.toBe(reason);
      expect(await eventually(() => s.requests[0]?.cancel?.aborted === true, 5000)).toBe(true);
      expect(await eventually(() => s.made[0]?.stoppedWhy !== undefined, 5000)).toBe(true);
    });

    it('stops the producer at the deadline, and fails the reader with a timeout', async () => {
      const s = await open(
        () =>
          producer(async function* () {
            yield 'only';
            await new Promise(() => {});
          }),
        {},
        { timeout: 400 },
      );
      if (!s) return;
      expect((await s.items.next()).value).toBe('only');
      await expect(s.items.next()).rejects.toBeInstanceOf(RpcTimeoutError);
      expect(await eventually(() => s.made[0]?.stoppedWhy !== undefined, 5000)).toBe(true);
      expect(s.made[0]!.stoppedWhy).toMatch(/deadline/);
    });

    it('fails the reader with the error a stream request is answered with', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Plain');
      await serve(server, service, () => ({
        ok: false,
        error: { code: 'SVC_ERR_USAGE', type: 'UsageError', message: 'does not stream' },
      }));
      const items = client.rpc.stream(request(service, 'plain'), { timeout: 5000 });
      await expect(readAll(items)).rejects.toThrow('does not stream');
    });
  });
}
