// The log stream of an instance with `rpc_tls` on: served over the same
// TLS-PSK as its RPC, and read by `svc tail`, `svc tail --trace` and
// `svc top` through a relay that records every byte, to show that what
// they print never crossed the wire in clear. The relay is reached through
// a second registry directory holding a copy of the instance's entry whose
// `logs` endpoint names the relay (and, for top and --trace, no `rpc`
// endpoint, so that they ask the log stream rather than RPC).
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterAuth, RecordLogger } from '@svc/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv, requireBuild, type Proc } from '../support/svc.js';

const SECRET = randomBytes(24).toString('base64');
const TLS = { SVC_RPC_TLS: '1', SVC_SECRET: SECRET };
const env = new TestEnv();
const relayed = mkdtempSync(join(tmpdir(), 'svc-e2e-relay-'));
let greeting: Proc;
let logs: string;
let relay: Relay;

/** A TCP relay to `target` keeping every byte it passes, both ways. */
class Relay {
  readonly bytes: Buffer[] = [];
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(target: { host: string; port: number }) {
    this.#server = createServer((client) => {
      const upstream = connect(target);
      for (const [from, to] of [
        [client, upstream],
        [upstream, client],
      ] as const) {
        this.#sockets.add(from);
        from.on('data', (d: Buffer) => {
          this.bytes.push(d);
          to.write(d);
        });
        from.on('error', () => from.destroy());
        from.on('close', () => {
          this.#sockets.delete(from);
          to.destroy();
        });
      }
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((r) => this.#server.listen(0, '127.0.0.1', r));
    return (this.#server.address() as { port: number }).port;
  }

  /** Everything relayed so far, as latin1 text (a string in clear shows up as itself). */
  get text(): string {
    return Buffer.concat(this.bytes).toString('latin1');
  }

  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise((r) => this.#server.close(r));
  }
}

/** `svc ARGS` reading the relayed registry, until `done` holds or it exits. */
function relayedSvc(args: string[]): Proc {
  return env.spawn(args, { env: { ...TLS, SVC_LOCAL_REGISTRY_DIR: relayed } });
}

async function greet(name: string): Promise<void> {
  const r = await env.run(['request', 'Greeting.greet', JSON.stringify({ name })], { env: TLS });
  expect(r.stdout).toBe(`'Hi, ${name}!'\n`);
}

beforeAll(async () => {
  requireBuild();
  greeting = await env.instance('conf/greeting.yml', { env: TLS });
  const started = greeting.logs().find((l) => l.msg.startsWith('started '))!.msg;
  logs = /logs (\S+?)[,)]/.exec(started)![1]!;
  const [, scheme, host, port] = /^(tcp|tls):\/\/([\d.]+):(\d+)$/.exec(logs)!;
  relay = new Relay({ host: host!, port: Number(port) });
  const relayPort = await relay.listen();
  // The instance's entry, copied with its log stream at the relay and without its RPC address.
  const uid = `svc-${process.getuid!()}`;
  const from = join(env.registryDir, uid, env.cluster);
  const to = join(relayed, uid, env.cluster);
  mkdirSync(to, { recursive: true, mode: 0o700 });
  for (const file of readdirSync(from).filter((f) => f.startsWith('Greeting+'))) {
    const entry = JSON.parse(readFileSync(join(from, file), 'utf8')) as {
      record: { endpoints: Record<string, string> };
    };
    const { rpc: _rpc, ...endpoints } = entry.record.endpoints;
    entry.record.endpoints = { ...endpoints, logs: `${scheme!}://127.0.0.1:${relayPort}` };
    writeFileSync(join(to, file), JSON.stringify(entry), { mode: 0o600 });
  }
}, 60_000);

afterAll(async () => {
  await relay?.close();
  await env.stop();
  rmSync(relayed, { recursive: true, force: true });
});

describe('the log stream of an instance with rpc_tls', () => {
  it('is published as tls:// and read by svc tail, with nothing of its records in clear on the wire', async () => {
    const tail = relayedSvc(['tail', 'Greeting']);
    await tail.waitFor((p) => p.stderr.includes('following Greeting/'), 'tail to follow Greeting');
    const name = `Sealed${randomBytes(6).toString('hex')}`;
    await greet(name);
    await tail.waitFor((p) => p.stdout.includes(`Saying hi to ${name}`), 'the record in tail');
    const line = tail.stdout.split('\n').find((l) => l.includes(`Saying hi to ${name}`))!;
    const traceId = /INFO +([0-9a-f]{12}) /.exec(line)![1]!;
    expect(relay.bytes.length).toBeGreaterThan(0);
    expect(relay.text).not.toContain(name);
    expect(relay.text).not.toContain(traceId);
    tail.child.kill('SIGTERM');
    await tail.exited;

    // tail --trace and top, given no RPC address, ask the log stream: through TLS too.
    const history = relayedSvc(['tail', '--trace', traceId, '--no-follow']);
    expect((await history.exited).code).toBe(0);
    expect(history.stdout).toContain(`Saying hi to ${name}`);
    const top = relayedSvc(['top', '--once', '--window', '300']);
    expect((await top.exited).code).toBe(0);
    expect(top.stdout).toContain('Greeting.greet');
    expect(relay.text).not.toContain(name);
    expect(relay.text).not.toContain('Greeting.greet');
    expect(logs).toMatch(/^tls:\/\/127\.0\.0\.1:\d+$/);
  });

  it('gives a plain TCP client nothing, even one with the secret, and logs the refusal once', async () => {
    const [, host, port] = /^\w+:\/\/([\d.]+):(\d+)$/.exec(logs)!;
    const auth = new ClusterAuth(
      { cluster: env.cluster, secret: SECRET },
      { log: new RecordLogger([], {}) },
    );
    const plain = connect({ host: host!, port: Number(port) });
    plain.on('error', () => {});
    let received = '';
    plain.on('data', (d: Buffer) => (received += d.toString('latin1')));
    const outcome = await new Promise<string>((r) =>
      auth.connect(plain, logs, { ready: () => r('ready'), failed: (err) => r(err.message) }),
    );
    plain.destroy();
    await greet('Plain');
    expect(outcome).toContain('cannot authenticate');
    expect(received).not.toContain('Plain');
    const refusals = () =>
      greeting
        .logs()
        .filter((l) => l.msg === 'refused a log stream subscriber that failed the TLS handshake');
    await expect.poll(() => refusals().length).toBe(1);
    expect(String(refusals()[0]!['source'])).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it('leaves svc top on RPC working', async () => {
    const top = await env.run(['top', '--once', '--window', '300'], { env: TLS });
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Greeting.greet');
  });
});
