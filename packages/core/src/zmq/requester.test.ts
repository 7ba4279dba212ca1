import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import * as zmq from 'zeromq';
import { afterEach, describe, expect, it } from 'vitest';
import { ConnectionLostError } from '../errors.js';
import { NotDeliveredError } from '../rpc/failover.js';
import { ClusterAuth } from '../security/auth.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { CaptureLogger } from '../testing/capture-log.js';
import { BadFrames } from './link.js';
import { ZmqRequester } from './requester.js';

/**
 * A zmq server of the cluster "test" (CURVE, with the secret key in
 * CURVE_SECRET): answers "ping" with "pong", says `got <body>` on stdout for
 * anything else and never answers it. Prints its endpoint first.
 */
const KILLABLE_SERVER = `
const zmq = require('zeromq');
const { Packr } = require('msgpackr');
const packr = new Packr({ useRecords: false, mapsAsObjects: true });
(async () => {
  const router = new zmq.Router({ curveServer: true, curveSecretKey: process.env.CURVE_SECRET, linger: 0 });
  await router.bind('tcp://127.0.0.1:*');
  console.log(router.lastEndpoint);
  for await (const [peer, msg] of router) {
    const { i, q } = packr.unpack(msg);
    if (q === 'ping') await router.send([peer, packr.pack({ i, r: 'pong' })]);
    else if (q !== undefined) console.log('got ' + q);
  }
})();
`;

/** Whether a child process has ended (a zombie not yet reaped: its sockets are closed). */
function isDead(pid: number): boolean {
  try {
    // The state follows the command's closing parenthesis.
    return /^[ZX]/.test(readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, ''));
  } catch {
    return true;
  }
}

describe('ZmqRequester', () => {
  const cleanup: Array<() => Promise<void> | void> = [];
  afterEach(async () => {
    for (const fn of cleanup.splice(0).reverse()) await fn();
  });

  it('fails a request made once ZeroMQ saw its peer die, before this thread heard of it, as not delivered; one it took before as lost', async () => {
    const curve = new ClusterAuth({ cluster: 'test' }, { log: new CaptureLogger() }).curve();
    const server = spawn(process.execPath, ['-e', KILLABLE_SERVER], {
      cwd: new URL('../..', import.meta.url),
      env: { ...process.env, CURVE_SECRET: curve.serverSecret },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => server.once('exit', r));
    cleanup.push(async () => {
      server.kill('SIGKILL');
      await exited;
    });
    let out = '';
    server.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
    const printed = async (line: RegExp) => {
      while (!line.test(out)) await new Promise((r) => setTimeout(r, 10));
    };
    await printed(/^tcp:\/\/\S+\n/);
    const endpoint = /tcp:\/\/\S+/.exec(out)![0];

    // The requester's own DEALER, to see what ZeroMQ knows of the connection.
    const dealers: zmq.Dealer[] = [];
    class Dealer extends zmq.Dealer {
      constructor(options?: ConstructorParameters<typeof zmq.Dealer>[0]) {
        super(options);
        dealers.push(this);
      }
    }
    const log = new CaptureLogger();
    const bad = new BadFrames(log);
    const requester = new ZmqRequester(
      { ...zmq, Dealer },
      {
        serializer: new MsgpackSerializer(),
        log,
        bad,
        auth: new ClusterAuth({ cluster: 'test' }, { log }),
        label: 'rpc',
      },
    );
    cleanup.push(
      () => requester.close(),
      () => bad.close(),
    );
    expect(await requester.request(endpoint, 'ping', 5000, 'ping')).toBe('pong');
    const [dealer] = dealers;
    // Reached the server, which runs it and never answers.
    const taken = requester.request(endpoint, 'work', 10_000, 'work').catch((e: unknown) => e);
    await printed(/^got work$/m);

    // kill -9, then, in this same turn (this thread reads no event meanwhile), the server is
    // dead (its sockets closed with it) and ZeroMQ's I/O thread has seen the connection end.
    server.kill('SIGKILL');
    const deadline = Date.now() + 5000;
    while (!isDead(server.pid!) && Date.now() < deadline);
    while (dealer!.writable && Date.now() < deadline);
    const late = requester.request(endpoint, 'ping', 10_000, 'ping').catch((e: unknown) => e);

    // The late one provably never left: safe to send elsewhere.
    expect(await late).toBeInstanceOf(NotDeliveredError);
    // The one taken before may have run: it is lost, never to be sent again.
    const lost = await taken;
    expect(lost).toBeInstanceOf(ConnectionLostError);
    expect(lost).not.toBeInstanceOf(NotDeliveredError);
  });

  it('holds a burst of requests made before its connection is up, in place of ZeroMQ, without giving the peer up', async () => {
    const curve = new ClusterAuth({ cluster: 'test' }, { log: new CaptureLogger() }).curve();
    const router = new zmq.Router({
      curveServer: true,
      curveSecretKey: curve.serverSecret,
      linger: 0,
    });
    cleanup.push(() => router.close());
    await router.bind('tcp://127.0.0.1:*');
    const serializer = new MsgpackSerializer();
    void (async () => {
      try {
        for await (const [peer, msg] of router) {
          const { i } = serializer.decode(msg!) as { i: number };
          await router.send([peer!, serializer.encode({ i, r: i })]);
        }
      } catch {
        // closed
      }
    })();
    // A TCP relay to the router that holds every connection until opened: no handshake, so
    // ZeroMQ (which takes requests only once the connection is up) takes none before then.
    const held: Socket[] = [];
    let open = false;
    const relay = (client: Socket) => {
      const upstream = createConnection(Number(new URL(router.lastEndpoint!).port), '127.0.0.1');
      client.pipe(upstream).pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    };
    const proxy = createServer((client) => (open ? relay(client) : held.push(client)));
    cleanup.push(
      () =>
        new Promise<void>((r) => {
          for (const c of held) c.destroy();
          proxy.close(() => r());
        }),
    );
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const endpoint = `tcp://127.0.0.1:${(proxy.address() as { port: number }).port}`;

    const log = new CaptureLogger();
    const bad = new BadFrames(log);
    const requester = new ZmqRequester(zmq, {
      serializer,
      log,
      bad,
      auth: new ClusterAuth({ cluster: 'test' }, { log }),
      label: 'rpc',
      writeBufferBytes: 64 * 1024,
    });
    cleanup.push(
      () => requester.close(),
      () => bad.close(),
    );
    // 20 requests of 16 KiB, 320 KiB in all: five times the limit, but fewer messages than
    // ZeroMQ takes for a peer (REQUEST_HIGH_WATER). Not a peer that does not read its requests.
    const payload = 'p'.repeat(16 * 1024);
    const answers = Array.from({ length: 20 }, () =>
      requester.request(endpoint, payload, 10_000, 'burst').catch((e: unknown) => e),
    );
    while (held.length === 0) await new Promise((r) => setTimeout(r, 5));
    open = true;
    for (const client of held.splice(0)) relay(client);

    const ended = await Promise.all(answers);
    expect(ended.filter((a) => typeof a !== 'number')).toEqual([]);
    expect(log.records.filter((r) => /does not read/.test(r.msg))).toEqual([]);
  });
});
