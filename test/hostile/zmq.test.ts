// The attacks of issue 13 on the `zmq` RPC port, by a member of the
// cluster (it holds the CURVE keys) that misbehaves, against a running
// instance (test/fixtures/hostile/target.yml: 4 MiB of unsent replies per
// peer). Each must be bounded or answered, and the instance must serve on.
// The instance is also the caller of a member that never reads its requests.
import { createRequire } from 'node:module';
import { ClusterAuth, RecordLogger } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv, requireBuild, type Proc } from '../support/svc.js';
import { TARGET, endpointOf, headers, rssMb, serializer } from './helpers.js';

// zeromq is a dependency of packages/core, not of the tests: loaded from there, typed by what is used.
interface Dealer {
  connect(endpoint: string): void;
  send(message: Buffer): Promise<void>;
  receive(): Promise<Buffer[]>;
  close(): void;
}
interface Router {
  bind(endpoint: string): Promise<void>;
  readonly lastEndpoint: string | null;
  close(): void;
}
const { Dealer, Router } = createRequire(
  new URL('../../packages/core/package.json', import.meta.url),
)('zeromq') as {
  Dealer: new (options: Record<string, unknown>) => Dealer;
  Router: new (options: Record<string, unknown>) => Router;
};

describe('hostile peers on the zmq RPC port', () => {
  const env = new TestEnv();
  let target: Proc;
  let rpc: string;
  let keys: ReturnType<ClusterAuth['curve']>;
  const dealers: Dealer[] = [];
  const routers: Router[] = [];

  beforeAll(async () => {
    requireBuild();
    target = await env.instance('target.yml', { cwd: TARGET, env: { SVC_RPC: 'zmq' } });
    rpc = await endpointOf(env, 'Target');
    keys = new ClusterAuth(
      { cluster: env.cluster },
      { log: new RecordLogger([], {}), env: env.env() },
    ).curve();
  });
  afterAll(async () => {
    for (const d of dealers) d.close();
    for (const r of routers) r.close();
    await env.stop();
  });

  /**
   * A DEALER with the cluster's keys. With `reads` false it takes in at most
   * one message and never reads it, so nothing more leaves the instance for
   * it: a peer that does not read (ZeroMQ would otherwise read on its behalf).
   */
  function member(reads = true, endpoint = rpc): Dealer {
    const d = new Dealer({
      linger: 0,
      ...(reads ? {} : { receiveHighWaterMark: 1 }),
      curveServerKey: keys.serverPublic,
      curvePublicKey: keys.clientPublic,
      curveSecretKey: keys.clientSecret,
    });
    dealers.push(d);
    d.connect(endpoint);
    return d;
  }

  const request = (i: number, method: string, params: unknown, timeout = 5000) =>
    serializer.encode({ i, q: { service: 'Target', method, params, headers, timeout } });

  async function reply(d: Dealer, id: number): Promise<{ i: number; r?: unknown; e?: unknown }> {
    for (;;) {
      const [bytes] = await d.receive();
      const msg = serializer.decode(bytes!) as { i: number; r?: unknown; e?: unknown };
      if (msg.i === id) return msg;
    }
  }

  async function stillServes(): Promise<void> {
    const d = member();
    await d.send(request(1, 'greet', { name: 'still' }));
    expect(await reply(d, 1)).toMatchObject({ r: { ok: true, result: 'Hi, still!' } });
  }

  it('drops a peer that sends requests and never reads the replies, with memory bounded', async () => {
    const before = rssMb(target.pid);
    const d = member(false);
    // 300 pings of 1 MiB each ask for 300 MB of replies (they pinned 665 MB before the fix).
    const payload = 'p'.repeat(1024 * 1024);
    for (let i = 0; i < 300; i++) await d.send(request(i, 'svc.ping', { payload }));
    await target.waitFor(
      (p) => p.hasLog((l) => l.msg === 'zmq rpc peer does not read its replies: dropping it'),
      'the non-reading peer to be dropped',
      20_000,
    );
    let peak = 0;
    for (let t = 0; t < 10; t++) {
      peak = Math.max(peak, rssMb(target.pid) - before);
      await new Promise((r) => setTimeout(r, 100));
    }
    // 64 replies in ZeroMQ's queue and 4 MiB of backlog, plus what the 300 MB of requests left.
    expect(peak).toBeLessThan(250);
    await stillServes();
  }, 60_000);

  it('answers a request over the message limit with SVC_ERR_DECODE, so its caller fails at once', async () => {
    const d = member();
    await d.send(request(7, 'greet', { name: 'x'.repeat(17 * 1024 * 1024) }));
    const started = Date.now();
    const answer = await reply(d, 7);
    expect(Date.now() - started).toBeLessThan(4000);
    expect(answer.e).toMatchObject({ code: 'SVC_ERR_DECODE' });
    expect((answer.e as { message: string }).message).toMatch(/over the \d+-byte limit/);
    // 100,000 nested lists: more than the decoder's stack takes. { i: 8, q: [[[...null]]] }
    await d.send(
      Buffer.concat([
        Buffer.from([0x82, 0xa1, 0x69, 8, 0xa1, 0x71]),
        Buffer.alloc(100_000, 0x91),
        Buffer.from([0xc0]),
      ]),
    );
    expect((await reply(d, 8)).e).toMatchObject({ code: 'SVC_ERR_DECODE' });
    await stillServes();
  });

  it('gives up, as a caller, a member that never reads its requests, with memory bounded, and calls others on', async () => {
    // The caller: an instance of its own, so that its memory is measured from a fresh start.
    const caller = await env.instance('target.yml', { cwd: TARGET, env: { SVC_RPC: 'zmq' } });
    const client = await env.client();
    const callerRpc = await client.backends.registry
      .lookup('Target')
      .then((records) => records.find((r) => r.pid === caller.pid)?.endpoints['rpc'])
      .finally(() => client.close());
    if (!callerRpc) throw new Error('the caller did not register its rpc endpoint');
    // A ROUTER with the cluster's server key that takes in one message and never reads:
    // the caller's requests to it back up in the caller.
    const sink = new Router({
      linger: 0,
      receiveHighWaterMark: 1,
      curveServer: true,
      curveSecretKey: keys.serverSecret,
    });
    routers.push(sink);
    await sink.bind('tcp://127.0.0.1:0');
    const address = sink.lastEndpoint!;
    const before = rssMb(caller.pid);
    const d = member(true, callerRpc);
    // 300 calls of 1 MiB to it, all in flight together: 300 MB that never leave the caller.
    const relay = { address, service: 'Sink', method: 'ping', count: 300, bytes: 1 << 20 };
    await d.send(request(1, 'relay', relay, 60_000));
    let peak = 0;
    let done = false;
    const answer = reply(d, 1).finally(() => (done = true));
    while (!done) {
      peak = Math.max(peak, rssMb(caller.pid) - before);
      await new Promise((r) => setTimeout(r, 50));
    }
    const ended = ((await answer).r as { result: Record<string, number> }).result;
    // Every call failed, none waited for its 30 s timeout: each said why.
    expect(ended['answered']).toBeUndefined();
    const clear = `Sink.ping: ${address} does not read its requests`;
    let told = 0;
    for (const [how, n] of Object.entries(ended)) {
      if (how.startsWith(clear)) told += n;
      // Calls on a connection made again after the last drop, not over the limit when
      // the calls stopped, end by ZeroMQ's heartbeat (6 s) instead: the sink takes in one
      // message, then its connection stalls and answers no heartbeat. (A last connection left
      // with a single request would stay up, its call waiting for its 30 s timeout; each
      // connection takes about 69 of these requests before it is given up, 64 for ZeroMQ and
      // 4 MiB more, so the last one has had dozens in every run seen.)
      else expect(how).toBe(`Sink.ping: the instance at ${address} went away mid-call`);
    }
    expect(told).toBeGreaterThan(150);
    const drops = caller
      .logs()
      .filter((l) => l.msg === 'zmq rpc server does not read: dropping the connection');
    expect(drops.length).toBeGreaterThan(0);
    expect(drops[0]).toMatchObject({ level: 'warn', endpoint: address, limit: 4 * 1024 * 1024 });
    // Per connection, 64 requests of 1 MiB in ZeroMQ's queue and 4 MiB waiting in the caller,
    // plus a margin of 128 MB for the rest (the requests' garbage before it is collected, which
    // Node 24 collects later): 78-100 MB measured on Node 20, 136 MB once on Node 24; 351 MB
    // before this limit, every call then waiting for the heartbeat.
    expect(peak).toBeLessThan(64 + 4 + 128);
    // The caller calls on: another instance, which reads, answers it.
    const ping = { address: rpc, service: 'Target', method: 'svc.ping', count: 3, bytes: 1024 };
    await d.send(request(2, 'relay', ping));
    expect(await reply(d, 2)).toMatchObject({ r: { ok: true, result: { answered: 3 } } });
  }, 60_000);
});
