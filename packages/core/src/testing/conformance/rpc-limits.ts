import { describe, expect, it } from 'vitest';
import { CancelToken } from '../../cancel.js';
import { CancelledError, RemoteError, RpcTimeoutError } from '../../errors.js';
import { STREAM_WINDOW } from '../../rpc/stream.js';
import type { ItemSource, RpcHandler, RpcRequest } from '../../rpc/transport.js';
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

/** A stream handler answering every stream request with `make()`'s producer. */
function streaming(made: Producer[], make: (req: RpcRequest) => Producer): RpcHandler {
  return (req) => {
    if (!req.stream) return { ok: true, result: 'plain' };
    const p = make(req);
    made.push(p);
    return { ok: 'stream', items: p.items };
  };
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
    it('streams every item in order, then ends with what the method returned', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Numbers');
      const made: Producer[] = [];
      await serve(
        server,
        service,
        streaming(made, (req) =>
          producer(async function* () {
            const { n } = req.params as { n: number };
            for (let i = 1; i <= n; i++) yield { i };
            return 'counted';
          }),
        ),
      );
      const items = client.rpc.stream(request(service, 'numbers', { n: 40 }), { timeout: 5000 });
      const got: unknown[] = [];
      let next = await items.next();
      for (; !next.done; next = await items.next()) got.push(next.value);
      expect(got).toEqual(Array.from({ length: 40 }, (_, i) => ({ i: i + 1 })));
      expect(next.value).toBe('counted');
      expect(made[0]!.stoppedWhy).toBeUndefined();
    });

    it('advances the producer only as far as the reader’s credit allows', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Endless');
      const made: Producer[] = [];
      await serve(
        server,
        service,
        streaming(made, () =>
          producer(async function* () {
            for (let i = 0; ; i++) yield i;
          }),
        ),
      );
      const items = client.rpc.stream(request(service, 'all'), { timeout: 10_000 });
      let read = 0;
      for (; read < 3; read++) await items.next();
      // A reader that stops reading for a while: the producer waits for it.
      await sleep(300);
      const produced = made[0]!.produced;
      expect(produced - read).toBeLessThanOrEqual(STREAM_WINDOW + 1);
      for (; read < 200; read++) await items.next();
      await sleep(100);
      expect(made[0]!.produced - read).toBeLessThanOrEqual(STREAM_WINDOW + 1);
      await items.return?.();
      expect(await eventually(() => made[0]!.stoppedWhy !== undefined)).toBe(true);
    });

    it('ends the stream with the error its producer threw, after the items before it', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Breaks');
      await serve(
        server,
        service,
        streaming([], () =>
          producer(async function* () {
            yield 1;
            yield 2;
            throw new RangeError('the third item failed');
          }),
        ),
      );
      const items = client.rpc.stream(request(service, 'broken'), { timeout: 5000 });
      expect((await items.next()).value).toBe(1);
      expect((await items.next()).value).toBe(2);
      const err = (await items.next().catch((e: unknown) => e)) as RemoteError;
      expect(err).toBeInstanceOf(RemoteError);
      expect(err.remoteType).toBe('RangeError');
      expect(err.remoteMessage).toBe('the third item failed');
      expect(await items.next()).toMatchObject({ done: true });
    });

    it('stops the producer, running its finally, when the reader breaks off', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Broken');
      const made: Producer[] = [];
      await serve(
        server,
        service,
        streaming(made, () => {
          const p: Producer = producer(async function* () {
            try {
              for (let i = 0; ; i++) yield i;
            } finally {
              p.finallyRan = true;
            }
          });
          return p;
        }),
      );
      const items = client.rpc.stream(request(service, 'all'), { timeout: 10_000 });
      await items.next();
      await items.next();
      await items.return?.();
      expect(await eventually(() => made[0]?.finallyRan === true, 5000)).toBe(true);
      expect(made[0]!.stoppedWhy).toBeDefined();
    });

    it('stops the producer when the caller cancels, and fails the reader with the reason', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Cancelled');
      const made: Producer[] = [];
      const requests: RpcRequest[] = [];
      await serve(
        server,
        service,
        streaming(made, (req) => {
          requests.push(req);
          return producer(async function* () {
            yield 'first';
            await new Promise(() => {});
          });
        }),
      );
      const cancel = new CancelToken();
      const items = client.rpc.stream(request(service, 'slow'), { timeout: 10_000, cancel });
      expect((await items.next()).value).toBe('first');
      const waiting = items.next();
      const reason = new CancelledError('stop it');
      cancel.abort(reason);
      await expect(waiting).rejects.toBe(reason);
      expect(await eventually(() => requests[0]?.cancel?.aborted === true, 5000)).toBe(true);
      expect(await eventually(() => made[0]?.stoppedWhy !== undefined, 5000)).toBe(true);
    });

    it('stops the producer at the deadline, and fails the reader with a timeout', async () => {
      const server = await peer();
      const client = await peer();
      if (!client.rpc.stream) return;
      const service = uniqueName('Late');
      const made: Producer[] = [];
      await serve(
        server,
        service,
        streaming(made, () =>
          producer(async function* () {
            yield 'only';
            await new Promise(() => {});
          }),
        ),
      );
      const items = client.rpc.stream(request(service, 'late'), { timeout: 400 });
      expect((await items.next()).value).toBe('only');
      await expect(items.next()).rejects.toBeInstanceOf(RpcTimeoutError);
      expect(await eventually(() => made[0]?.stoppedWhy !== undefined, 5000)).toBe(true);
      expect(made[0]!.stoppedWhy).toMatch(/deadline/);
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
