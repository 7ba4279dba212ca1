import { Dealer, curveKeyPair } from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import type { BackendContext } from '../backends.js';
import type { Logger } from '../log/logger.js';
import { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
import { ZmqRpcTransport } from '../rpc/zmq.js';
import { ClusterAuth } from '../security/auth.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';

const messages: string[] = [];
const log: Logger = {
  debug: () => {},
  info: () => {},
  warn: (msg) => void messages.push(msg),
  error: (msg) => void messages.push(msg),
  child: () => log,
};

const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
  messages.length = 0;
});

const authWith = (secret: string) => new ClusterAuth({ cluster: 'zap', secret }, { log });

async function transport(auth: ClusterAuth): Promise<ZmqRpcTransport> {
  const ctx: BackendContext = { cluster: 'zap', bindHost: '127.0.0.1', log, clientName: 't', auth };
  const t = await ZmqRpcTransport.create(new MemoryRegistry(new MemoryRegistryStore()), ctx);
  cleanup.push(() => t.close());
  return t;
}

const request = {
  service: 'Echo',
  method: 'echo',
  params: { x: 1 },
  headers: { traceId: 't', callIdStack: [], data: {} },
};

async function until(cond: () => boolean): Promise<void> {
  for (let i = 0; i < 300 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(cond()).toBe(true);
}

describe('zmq listeners of a cluster', () => {
  it('serve a caller that holds the cluster keys (CURVE from the same secret)', async () => {
    const server = await transport(authWith('a'.repeat(32)));
    const { rpc } = await server.listen(['Echo'], (req) => ({ ok: true, result: req.params }));
    const client = await transport(authWith('a'.repeat(32)));
    await expect(client.call(request, { address: rpc!, timeout: 3000 })).resolves.toEqual({
      ok: true,
      result: { x: 1 },
    });
  });

  it('refuse a caller of another secret, which gets a clear error instead of a timeout', async () => {
    const serverAuth = authWith('a'.repeat(32));
    const server = await transport(serverAuth);
    let served = 0;
    const { rpc } = await server.listen(['Echo'], (req) => {
      served++;
      return { ok: true, result: req.params };
    });
    const client = await transport(authWith('b'.repeat(32)));
    await expect(client.call(request, { address: rpc!, timeout: 4000 })).rejects.toThrow(
      /cannot authenticate with tcp:\/\/127\.0\.0\.1:\d+/,
    );
    await until(() => serverAuth.refused > 0);
    expect(served).toBe(0);
    expect(messages[0]).toMatch(/refused a peer on the zmq rpc listener/);
  });

  it('refuse a raw peer without keys and one with keys of its own, decoding nothing of theirs', async () => {
    const serverAuth = authWith('a'.repeat(32));
    const server = await transport(serverAuth);
    let served = 0;
    const { rpc } = await server.listen(['Echo'], (req) => {
      served++;
      return { ok: true, result: req.params };
    });
    const body = new MsgpackSerializer().encode({ i: 1, q: request });
    // Knows the server's public key (as if leaked) but not the cluster's caller key.
    const own = curveKeyPair();
    for (const options of [
      {},
      {
        curveServerKey: serverAuth.curve().serverPublic,
        curvePublicKey: own.publicKey,
        curveSecretKey: own.secretKey,
      },
    ]) {
      const raw = new Dealer({ linger: 0, ...options });
      cleanup.push(() => raw.close());
      raw.connect(rpc!);
      void raw.send(body).catch(() => {});
    }
    await until(() => serverAuth.refused >= 2);
    await new Promise((r) => setTimeout(r, 200));
    expect(served).toBe(0);
    expect(server.badFrames).toBe(0);
  });
});
