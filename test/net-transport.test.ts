import type { ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ConnectionLostError, createRpcTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';
import { afterEach, describe, expect, it } from 'vitest';
import { silent, startRpcFixture } from './support/rpc-fixture.js';

const fixture = fileURLToPath(new URL('./fixtures/net-rpc-server.mjs', import.meta.url));
const headers = { traceId: 't', callIdStack: [], data: {} };

describe('net rpc transport across processes', () => {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null) c.kill('SIGKILL');
  });

  it('fails a call in flight with ConnectionLostError as soon as the serving process is killed', async () => {
    const { child, rpc } = await startRpcFixture(fixture, children);
    // The fixture's cluster: both sides take its secret from this user's file for it.
    const ctx = { cluster: 'test', bindHost: '127.0.0.1', log: silent, clientName: 't' };
    const client = await createRpcTransport(
      'net',
      new MemoryRegistry(new MemoryRegistryStore()),
      ctx,
    );
    try {
      const hello = await client.call(
        { service: 'greeter', method: 'greet', params: { name: 'Ann' }, headers },
        { timeout: 5000, address: rpc },
      );
      expect(hello).toEqual({ ok: true, result: 'Hi, Ann!' });
      const hanging = client.call(
        { service: 'greeter', method: 'hang', params: {}, headers },
        { timeout: 30_000, address: rpc },
      );
      const started = Date.now();
      child.kill('SIGKILL');
      await expect(hanging).rejects.toBeInstanceOf(ConnectionLostError);
      // Far below the call's own 30 s timeout: the loss, not the timer, failed it.
      expect(Date.now() - started).toBeLessThan(10_000);
    } finally {
      await client.close();
    }
  });
});
