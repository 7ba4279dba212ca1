// The tour across three "hosts", encrypted: RPC on `net` over TLS-PSK keyed
// by the cluster secret (`SVC_RPC_TLS=1`, `SVC_SECRET`), events over
// amqps:// to RabbitMQ through a TLS terminator this test starts in front
// of the real broker (a throwaway self-signed certificate made with
// openssl, trusted by the instances through NODE_EXTRA_CA_CERTS), in a
// RabbitMQ virtual host of its own, and ZooKeeper entries under a digest
// ACL (credentials in the registry URL). A raw client on another host,
// without the secret, is refused before a byte of its request is decoded;
// a ZooKeeper client without the credentials cannot touch an entry.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import zookeeper from 'node-zookeeper-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireBuild, type Proc } from '../support/svc.js';
import { closeClient, rawClient, removeTree } from '../zookeeper/helpers.js';
import { Hosts, forward } from './support/netns.js';

const hosts = new Hosts('svct', '10.231.8', ['a', 'b', 'c']);
const cluster = `tls${randomBytes(3).toString('hex')}`;
const vhost = `svc-test-${cluster}`;
const SECRET = randomBytes(24).toString('base64');
// ZooKeeper digest credentials: only they may add, change or remove the cluster's entries.
const ZK_AUTH = `svc-${cluster}:${randomBytes(12).toString('hex')}`;
const ZK_ROOT = `/svc-test-${cluster}`;
let zkAddress: string | undefined;
const dir = mkdtempSync(join(tmpdir(), 'svc-tls-'));
const procs: Proc[] = [];
const fronts: { close(): Promise<void> }[] = [];
let vhostMade = false;
let baseEnv: NodeJS.ProcessEnv;
let webUrl: string;
let greeting: Proc;
let listen: Proc;

const rabbitmqctl = (...args: string[]) =>
  execFileSync('rabbitmqctl', ['-q', ...args], { encoding: 'utf8', timeout: 30_000 });

async function start(host: string, config: string, extra: Record<string, string>): Promise<Proc> {
  const p = hosts.svc(host, ['instance', '--config', config], { ...baseEnv, ...extra });
  procs.push(p);
  await p.waitFor(
    (x) => x.hasLog((l) => l.msg.startsWith('started ')),
    `${config} on ${host}`,
    30_000,
  );
  return p;
}

async function run(
  host: string,
  command: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = hosts.exec(host, command, env);
  procs.push(p);
  const { code } = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

const svc = (host: string, args: string[], env: NodeJS.ProcessEnv = baseEnv) =>
  run(host, [process.execPath, join(REPO, 'packages/cli/bin/svc.js'), ...args], env);
const started = (p: Proc) => p.logs().find((l) => l.msg.startsWith('started '))!.msg;
const heard = (name: string) =>
  listen.logs().filter((l) => l.msg === `Somebody greeted ${name}`).length;
const greeted = (name: string) =>
  greeting.logs().filter((l) => l.msg === `Saying hi to ${name}`).length;

beforeAll(async () => {
  requireBuild();
  Hosts.check();
  execFileSync('bash', [`${REPO}/scripts/zookeeper.sh`], { stdio: 'inherit' });
  hosts.create();
  // A certificate for the terminator's address, valid for the test only.
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-keyout',
      join(dir, 'key.pem'),
      '-out',
      join(dir, 'cert.pem'),
      '-days',
      '1',
      '-subj',
      '/CN=svc-test-amqps',
      '-addext',
      `subjectAltName=IP:${hosts.gateway}`,
    ],
    { stdio: 'ignore' },
  );
  const key = readFileSync(join(dir, 'key.pem'));
  const cert = readFileSync(join(dir, 'cert.pem'));
  rabbitmqctl('add_vhost', vhost);
  vhostMade = true;
  rabbitmqctl('set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*');
  const zk = await forward(hosts.gateway, { host: '127.0.0.1', port: 2181 });
  fronts.push(zk);
  zkAddress = `${hosts.gateway}:${zk.port}`;
  const amqps = await forward(hosts.gateway, { host: '127.0.0.1', port: 5672 }, (on) =>
    createTlsServer({ key, cert }, on),
  );
  fronts.push(amqps);
  baseEnv = {
    ...process.env,
    SVC_CLUSTER: cluster,
    SVC_LOG_FORMAT: 'json',
    NO_COLOR: '1',
    SVC_REGISTRY: `zookeeper://${ZK_AUTH}@${zkAddress}${ZK_ROOT}`,
    SVC_RPC: 'net',
    SVC_RPC_TLS: '1',
    SVC_SECRET: SECRET,
    SVC_EVENTS: `amqps://guest:guest@${hosts.gateway}:${amqps.port}/${vhost}`,
    NODE_EXTRA_CA_CERTS: join(dir, 'cert.pem'),
  };
  [greeting, listen] = await Promise.all([
    start('b', 'conf/greeting.yml', {
      SVC_BIND_HOST: '0.0.0.0',
      SVC_ADVERTISE_HOST: hosts.address('b'),
    }),
    start('c', 'conf/listen.yml', { SVC_BIND_HOST: hosts.address('c') }),
  ]);
  const web = await start('a', 'conf/web.yml', {
    WEB_PORT: '0',
    SVC_HTTP_HOST: '0.0.0.0',
    SVC_BIND_HOST: hosts.address('a'),
  });
  webUrl = /(http:\/\/[\d.]+:\d+)/.exec(started(web))![1]!;
}, 120_000);

afterAll(async () => {
  for (const p of procs) if (p.child.exitCode === null) p.child.kill('SIGTERM');
  await Promise.race([
    Promise.all(procs.map((p) => p.exited)),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  // The entries' parents carry the ACL: only the credentials can remove them.
  if (zkAddress) {
    const insider = await rawClient('127.0.0.1:2181');
    insider.addAuthInfo('digest', Buffer.from(ZK_AUTH));
    await removeTree(insider, ZK_ROOT);
    await closeClient(insider);
  }
  await Promise.allSettled(fronts.map((f) => f.close()));
  hosts.destroy();
  if (vhostMade) rabbitmqctl('delete_vhost', vhost);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('the tour across hosts, encrypted (TLS-PSK on net, amqps)', () => {
  it('publishes a tls:// RPC endpoint at the host address', () => {
    expect(started(greeting)).toContain(`rpc tls://${hosts.address('b')}:`);
  });

  it('serves HTTP through TLS RPC, and the event through amqps reaches Listen', async () => {
    const res = await fetch(`${webUrl}/greet?name=Sealed`);
    expect(await res.text()).toBe('Hi, Sealed!');
    await expect.poll(() => heard('Sealed'), { timeout: 15_000 }).toBe(1);
  });

  it('answers svc request from another host with the secret, and refuses one with another secret', async () => {
    expect(await svc('a', ['request', 'Greeting.greet', '{"name": "Keyed"}'])).toMatchObject({
      code: 0,
      stdout: "'Hi, Keyed!'\n",
    });
    const rpc = /rpc (tls:\/\/[\d.]+:\d+)/.exec(started(greeting))![1]!;
    const wrong = { ...baseEnv, SVC_SECRET: randomBytes(24).toString('base64') };
    const refused = await svc(
      'a',
      // Addressed: without the secret the registry's signed records would hide the instance.
      ['request', 'Greeting.greet', '{"name": "Wrong"}', '--timeout', '3000', '--address', rpc],
      wrong,
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`cannot authenticate with tls://${hosts.address('b')}:`);
    expect(greeted('Wrong')).toBe(0);
  });

  it('serves the log stream over TLS too: svc tail on another host reads it', async () => {
    expect(started(greeting)).toContain(`logs tls://${hosts.address('b')}:`);
    const tail = hosts.svc('a', ['tail', 'Greeting'], baseEnv);
    procs.push(tail);
    await tail.waitFor((p) => p.stderr.includes('following Greeting/'), 'tail to follow Greeting');
    expect(await (await fetch(`${webUrl}/greet?name=Tailed`)).text()).toBe('Hi, Tailed!');
    await tail.waitFor((p) => p.stdout.includes('Saying hi to Tailed'), 'the record in tail');
    tail.child.kill('SIGTERM');
  });

  it('refuses a raw client on another host before a byte of its request is decoded', async () => {
    const port = /rpc tls:\/\/[\d.]+:(\d+)/.exec(started(greeting))![1]!;
    const { stdout } = await run(
      'c',
      [
        process.execPath,
        join(REPO, 'test/hosts/support/raw-client.mjs'),
        hosts.address('b'),
        port,
        'Raw',
      ],
      { ...process.env },
    );
    const seen = JSON.parse(stdout) as { closed: boolean; bytes: string; text: string };
    expect(seen.closed).toBe(true);
    // What came back, if anything, is a TLS alert record (0x15), never a reply frame.
    expect(seen.bytes === '' || seen.bytes.startsWith('15')).toBe(true);
    expect(seen.text).not.toContain('Hi, Raw!');
    expect(greeted('Raw')).toBe(0);
    await expect
      .poll(() =>
        greeting
          .logs()
          .filter((l) => l.msg === 'refused an RPC peer that failed the TLS handshake')
          .map((l) => String(l['source']).split(':')[0]),
      )
      .toContain(hosts.address('c'));
    // The instance still serves.
    expect(await (await fetch(`${webUrl}/greet?name=Still`)).text()).toBe('Hi, Still!');
  });

  it('keeps the instances’ ZooKeeper entries from a client without the digest credentials', async () => {
    const service = `${ZK_ROOT}/services/Greeting`;
    const outsider = await rawClient(zkAddress!);
    try {
      type Done<T> = (e: Error | zookeeper.Exception | null, v?: T) => void;
      /** A raw client call's outcome: `ok` and its value, or ZooKeeper's error code. */
      const zk = <T>(fn: (done: Done<T>) => void) =>
        new Promise<{ code: number | 'ok'; value?: T }>((resolve) =>
          fn((e, v) =>
            resolve(e ? { code: 'getCode' in e ? e.getCode() : -1 } : { code: 'ok', value: v }),
          ),
        );
      const listed = await zk<string[]>((done) => outsider.getChildren(service, done));
      expect(listed.code).toBe('ok');
      const [id] = listed.value!;
      expect(id).toMatch(/^[0-9a-f]+$/);
      const planted = Buffer.from(JSON.stringify({ id: 'planted', service: 'Greeting' }));
      const NO_AUTH = zookeeper.Exception.NO_AUTH;
      // Anyone may read the entries; without the credentials, nobody may touch them.
      expect(await zk((done) => outsider.remove(`${service}/${id}`, done))).toEqual({
        code: NO_AUTH,
      });
      expect(await zk((done) => outsider.setData(`${service}/${id}`, planted, done))).toEqual({
        code: NO_AUTH,
      });
      expect(await zk((done) => outsider.create(`${service}/planted`, planted, done))).toEqual({
        code: NO_AUTH,
      });
    } finally {
      await closeClient(outsider);
    }
    expect(await svc('a', ['discover'])).toMatchObject({
      code: 0,
      stdout: 'Greeting [1]\nListen [1]\nWeb [1]\n',
    });
    expect(await (await fetch(`${webUrl}/greet?name=Listed`)).text()).toBe('Hi, Listed!');
  });
});
