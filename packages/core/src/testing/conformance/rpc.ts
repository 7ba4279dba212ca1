import { afterEach, describe, expect, it } from 'vitest';
import { ErrorCode, RpcTimeoutError, UnknownServiceError, type WireError } from '../../errors.js';
import type { Registry } from '../../registry/registry.js';
import type { RpcHandler, RpcRequest, RpcTransport } from '../../rpc/transport.js';
import { describeCallLimits } from './rpc-limits.js';
import { closedAfterEach, makeRecord, sleep, uniqueName } from './util.js';

/** One process's view of the cluster: its RPC transport and, for direct transports, its registry. */
export interface RpcPeer {
  rpc: RpcTransport;
  /** null for transports that need no registry (AMQP) */
  registry: Registry | null;
}

export interface RpcFactory {
  /** A new peer on one shared cluster. */
  create(): Promise<RpcPeer>;
}

// W3C Trace Context rides along: the caller's span id, its flags, and tracestate.
const headers = {
  traceId: 't-1',
  callIdStack: ['caller.call.1'],
  data: { lang: 'en' },
  spanId: '00f067aa0ba902b7',
  traceFlags: 1,
  traceState: 'vendor=abc',
};

function request(service: string, method: string, params: unknown): RpcRequest {
  return { service, method, params, headers };
}

/** Serves `service` on a peer and makes it findable, as the runtime does. */
export async function serve(
  peer: RpcPeer,
  service: string,
  handler: RpcHandler,
): Promise<() => Promise<void>> {
  const endpoints = await peer.rpc.listen([service], handler);
  const record = makeRecord(service, { endpoints });
  if (peer.registry && Object.keys(endpoints).length > 0) await peer.registry.register(record);
  return async () => {
    if (peer.registry) await peer.registry.unregister(service, record.id);
  };
}

/** The behaviour every RpcTransport shares. */
export function describeRpcTransport(name: string, factory: RpcFactory): void {
  describe(`RpcTransport conformance: ${name}`, () => {
    const peer = closedAfterEach(
      afterEach,
      () => factory.create(),
      (p) => p.rpc.close(),
      (p) => p.registry?.close(),
    );

    it('carries params and headers to the server and the result back', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Greeting');
      let seen: RpcRequest | undefined;
      await serve(server, service, async (req) => {
        seen = req;
        const { name } = req.params as { name: string };
        return { ok: true, result: `Hi, ${name}!` };
      });
      const reply = await client.rpc.call(request(service, 'greet', { name: 'Flynne' }), {
        timeout: 5000,
      });
      expect(reply).toEqual({ ok: true, result: 'Hi, Flynne!' });
      const { timeout, cancel, ...carried } = seen!;
      expect(carried).toEqual({ service, method: 'greet', params: { name: 'Flynne' }, headers });
      // What remained of the call's 5 s when it left, counted from its arrival.
      expect(timeout).toBeGreaterThan(0);
      expect(timeout).toBeLessThanOrEqual(5000);
      expect(cancel?.aborted ?? false).toBe(false);
    });

    it('carries nested, unicode and binary-free values both ways intact', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Echo');
      await serve(server, service, async (req) => ({ ok: true, result: req.params }));
      const value = {
        s: 'Grüße, 世界 🚀',
        n: -1.5,
        big: 2 ** 40,
        list: [1, 'two', null, { deep: [true] }],
        empty: {},
      };
      expect(await client.rpc.call(request(service, 'echo', value), { timeout: 5000 })).toEqual({
        ok: true,
        result: value,
      });
    });

    it('returns an error response as it was sent', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Failing');
      const error: WireError = {
        code: ErrorCode.REMOTE,
        type: 'ValueError',
        message: 'boom',
        data: { why: 1 },
      };
      await serve(server, service, async () => ({ ok: false, error }));
      expect(await client.rpc.call(request(service, 'fail', {}), { timeout: 5000 })).toEqual({
        ok: false,
        error,
      });
    });

    it('keeps 100 concurrent calls apart', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Many');
      await serve(server, service, async (req) => {
        const { i } = req.params as { i: number };
        await sleep((i * 7) % 13);
        return { ok: true, result: i * 2 };
      });
      const replies = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          client.rpc.call(request(service, 'double', { i }), { timeout: 10_000 }),
        ),
      );
      expect(replies).toEqual(Array.from({ length: 100 }, (_, i) => ({ ok: true, result: i * 2 })));
    });

    it('spreads calls over every live instance', async () => {
      const a = await peer();
      const b = await peer();
      const client = await peer();
      const service = uniqueName('Spread');
      await serve(a, service, async () => ({ ok: true, result: 'a' }));
      await serve(b, service, async () => ({ ok: true, result: 'b' }));
      const seen = new Set<unknown>();
      for (let i = 0; i < 20; i++) {
        const reply = await client.rpc.call(request(service, 'who', {}), { timeout: 5000 });
        if (reply.ok) seen.add(reply.result);
      }
      expect([...seen].sort()).toEqual(['a', 'b']);
    });

    it('fails fast with UnknownServiceError when nobody serves the service', async () => {
      const client = await peer();
      const started = Date.now();
      await expect(
        client.rpc.call(request(uniqueName('Nobody'), 'x', {}), { timeout: 10_000 }),
      ).rejects.toBeInstanceOf(UnknownServiceError);
      expect(Date.now() - started).toBeLessThan(5000);
    });

    it('fails with RpcTimeoutError when the server does not answer in time', async () => {
      const server = await peer();
      const client = await peer();
      const service = uniqueName('Slow');
      await serve(server, service, () => new Promise(() => {}));
      await expect(
        client.rpc.call(request(service, 'wait', {}), { timeout: 300 }),
      ).rejects.toBeInstanceOf(RpcTimeoutError);
    });

    it('sends new calls to the survivor once an instance has gone', async () => {
      const a = await peer();
      const b = await peer();
      const client = await peer();
      const service = uniqueName('Survive');
      const stopA = await serve(a, service, async () => ({ ok: true, result: 'a' }));
      await serve(b, service, async () => ({ ok: true, result: 'b' }));
      await client.rpc.call(request(service, 'who', {}), { timeout: 5000 });
      await stopA();
      await a.rpc.close();
      await sleep(300);
      const results: unknown[] = [];
      for (let i = 0; i < 6; i++) {
        const reply = await client.rpc.call(request(service, 'who', {}), { timeout: 5000 });
        if (reply.ok) results.push(reply.result);
      }
      expect(results).toEqual(['b', 'b', 'b', 'b', 'b', 'b']);
    });

    describeCallLimits(peer);
  });
}
