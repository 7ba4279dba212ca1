import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRpcTransport, type RpcTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';
import { makeRecord } from '@svc/core/testing/conformance';
import { afterEach, describe, expect, it } from 'vitest';
import { silent, startRpcFixture } from './support/rpc-fixture.js';

// The instance that stops runs in another process, so that this one (the caller) can block its
// event loop while ZeroMQ's thread goes on taking in what the instance sends.
const fixture = fileURLToPath(new URL('./fixtures/zmq-rpc-server.mjs', import.meta.url));
const ctx = { cluster: 'test', bindHost: '127.0.0.1', log: silent, clientName: 'test' };
const headers = { traceId: 't', callIdStack: [], data: {} };

/** Keeps this thread busy for `ms`, as a caller doing heavy synchronous work. */
function block(ms: number): void {
  const end = Date.now() + ms;
  let spins = 0;
  while (Date.now() < end) spins++;
  expect(spins).toBeGreaterThan(0);
}

interface Server {
  child: ChildProcess;
  rpc: string;
  /** resolves with the first line of its output from now on that matches */
  line(pattern: RegExp): Promise<string>;
}

describe('a zmq instance that stops', () => {
  const children: ChildProcess[] = [];
  const transports: RpcTransport[] = [];
  afterEach(async () => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
    for (const t of transports.splice(0)) await t.close();
  });

  async function startServer(): Promise<Server> {
    const { child, rpc, lines } = await startRpcFixture(fixture, children, 'pipe');
    const waiting: Array<{ pattern: RegExp; resolve: (line: string) => void }> = [];
    lines.on('line', (text) => {
      for (const w of waiting.splice(0)) {
        if (w.pattern.test(text)) w.resolve(text);
        else waiting.push(w);
      }
    });
    const line = (pattern: RegExp) =>
      new Promise<string>((resolve, reject) => {
        waiting.push({ pattern, resolve });
        child.once('exit', () =>
          reject(new Error(`the zmq server fixture exited before ${pattern}`)),
        );
      });
    return { child, rpc, line };
  }

  async function client(registry = new MemoryRegistry(new MemoryRegistryStore())) {
    const rpc = await createRpcTransport('zmq', registry, ctx);
    transports.push(rpc);
    return rpc;
  }

  it('gives every reply to a caller whose event loop is blocked when it stops', async () => {
    const server = await startServer();
    const caller = await client();
    const count = 20;
    const calls = Array.from({ length: count }, (_, n) =>
      caller
        .call(
          { service: 'worker', method: 'work', params: { n }, headers },
          { timeout: 10_000, address: server.rpc },
        )
        .then(
          (reply) => (reply.ok ? reply.result : reply.error),
          (err: unknown) => (err as Error).message,
        ),
    );
    await server.line(new RegExp(`^started work ${count}$`));
    const closed = server.line(/^closed /);
    // The instance answers 50 ms into its stop, while this caller is busy for 400 ms: the
    // replies wait in its ZeroMQ, which dropped them when the instance closed (a fixed grace).
    server.child.stdin!.write('stop\n', () => block(400));
    expect(await Promise.all(calls)).toEqual(Array.from({ length: count }, (_, n) => n));
    await closed;
  });

  it('runs a call sent to it as it stops once, on another instance, though its caller is blocked', async () => {
    const server = await startServer();
    const store = new MemoryRegistryStore();
    const registry = new MemoryRegistry(store);
    const other = await client();
    let ranOnOther = 0;
    const { rpc: otherEndpoint } = await other.listen(['worker'], () => {
      ranOnOther++;
      return { ok: true, result: 'b' };
    });
    await registry.register(makeRecord('worker', { endpoints: { rpc: server.rpc } }));
    await registry.register(makeRecord('worker', { endpoints: { rpc: otherEndpoint! } }));
    const caller = await client(registry);
    // A call running there keeps the instance stopping for a while, and connects this caller.
    const running = caller
      .call(
        { service: 'worker', method: 'work', params: { n: 7 }, headers },
        { timeout: 10_000, address: server.rpc },
      )
      .catch((err: unknown) => (err as Error).message);
    await server.line(/^started work 1$/);
    const closed = server.line(/^closed /);
    await new Promise<void>((resolve) => {
      void server.line(/^stopping$/).then(() => resolve());
      server.child.stdin!.write('stop\n');
    });
    // Round-robin over the two: one of these goes to the stopping instance, which refuses it;
    // the refusal reaches this caller while it is busy, and must not be lost with the close.
    const calls = [0, 1].map(() =>
      caller
        .call({ service: 'worker', method: 'who', params: {}, headers }, { timeout: 10_000 })
        .then(
          (reply) => (reply.ok ? reply.result : reply.error),
          (err: unknown) => (err as Error).message,
        ),
    );
    setImmediate(() => block(400));
    expect(await Promise.all(calls)).toEqual(['b', 'b']);
    expect(await running).toEqual({ ok: true, result: 7 });
    const ran = JSON.parse((await closed).slice('closed '.length)) as Record<string, number>;
    expect(ran).toEqual({ work: 1, who: 0 });
    expect(ranOnOther).toBe(2);
  });
});
