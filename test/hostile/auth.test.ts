// Another local user against a running cluster (issue 13, item 1): every
// listener refuses a peer that cannot prove it belongs to the cluster,
// before decoding a byte of it, and goes on serving the cluster's own.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterAuth, RecordLogger, type ClusterClient } from '@svc/core';
import { localSocketPath } from '@svc/core/internal';
import { controlSocketPath } from '@svc/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, fixture } from '../node/helpers.js';
import { TestEnv, requireBuild, type Proc } from '../support/svc.js';
import { attackAs, attackAsMember, createUser, removeUser } from './support/auth-user.js';

const env = new TestEnv();
let user: string | undefined;
let node: Cluster | undefined;
let client: ClusterClient;
let greeting: Proc;
let listen: Proc;
const endpoints: Record<string, string> = {};
let got: Awaited<ReturnType<typeof attackAs>>;

const refusedOn = (proc: Proc, listener: string) =>
  proc.hasLog(
    (l) => l.level === 'warn' && l.msg.startsWith(`refused a peer on the ${listener} listener`),
  );

beforeAll(async () => {
  requireBuild();
  user = createUser();
  [greeting, listen] = await Promise.all([
    env.instance('conf/greeting.yml'),
    env.instance('conf/listen.yml'),
  ]);
  node = new Cluster(
    `instances:\n  Sleeper: { command: "${process.execPath} ${fixture('sleeper.mjs')}" }\n`,
  );
  node.start();
  await node.running(1);
  client = await env.client();
  const services = await client.discover();
  const g = services.get('Greeting')![0]!;
  const l = services.get('Listen')![0]!;
  endpoints['rpc'] = g.endpoints['rpc']!;
  endpoints['logs'] = g.endpoints['logs']!;
  endpoints['events'] = l.endpoints['events']!;
  // Found as an attacker finds them (`ss -ltn` lists every port); the registry itself is private.
  got = await attackAs(user, {
    ...endpoints,
    control: controlSocketPath(node.config),
    // The unix socket beside the RPC port, for callers of the same user on this host.
    rpcLocal: localSocketPath(endpoints['rpc']),
  });
}, 60_000);

afterAll(async () => {
  try {
    await client?.close();
    node?.proc?.kill('SIGTERM');
    await env.stop();
    node?.cleanup();
  } finally {
    if (user) removeUser(user);
  }
});

describe('another local user', () => {
  it('gets nothing from the RPC port: a raw Greeting.greet or svc.recent_logs is closed unread', async () => {
    expect(got['rpcGreet']).toMatchObject({ how: 'closed', received: 0 });
    expect(got['rpcRecentLogs']).toMatchObject({ how: 'closed', received: 0 });
    // Speaking the handshake gets the server's proof (69 bytes, nothing of the cluster's), then the door.
    expect(got['rpcGuessedProof']).toMatchObject({ how: 'closed', received: 69 });
    expect(greeting.logs().some((l) => l.msg.includes('Mallory'))).toBe(false);
    expect(greeting.hasLog((l) => l.msg.startsWith('bad rpc frame'))).toBe(false);
    expect(refusedOn(greeting, 'rpc')).toBe(true);
    await expect(client.call('Greeting', 'greet', { name: 'Flynne' })).resolves.toBe('Hi, Flynne!');
  });

  it('reads no log records and no replies from an instance’s log stream', () => {
    expect(got['logStream']).toMatchObject({ how: 'closed', received: 0 });
    expect(refusedOn(greeting, 'logs')).toBe(true);
  });

  it('cannot inject a local event over zmq, which a member of the cluster can', async () => {
    expect(got['zmqEvent']?.reply).toBeUndefined();
    await new Promise((r) => setTimeout(r, 300));
    expect(listen.logs().some((l) => l.msg.includes('INJECTED'))).toBe(false);
    expect(refusedOn(listen, 'zmq events')).toBe(true);
    // The control: the same bytes, sent with the cluster's keys, are taken and handled.
    const auth = new ClusterAuth(
      { cluster: env.cluster },
      { log: new RecordLogger([], {}), env: env.env() },
    );
    const member = await attackAsMember({
      events: endpoints['events'],
      keys: auth.curve(),
      name: 'MEMBER',
    });
    expect(member['zmqEvent']?.reply).toContain('"ok":true');
    await listen.waitFor(
      (p) =>
        p.stdout.includes('Somebody greeted MEMBER') ||
        p.stderr.includes('Somebody greeted MEMBER'),
      'the member’s event',
    );
  });

  it('cannot reach the unix socket beside the RPC port, in a folder only the instance’s user may enter', () => {
    expect(existsSync(localSocketPath(endpoints['rpc']!)!)).toBe(true);
    expect(got['rpcLocal']).toMatchObject({ how: 'error', error: 'EACCES' });
  });

  it('cannot reach the svc node control socket', () => {
    expect(got['control']).toMatchObject({ how: 'error', error: 'EACCES' });
  });
});

describe('a cluster across hosts', () => {
  const hosts = new TestEnv();
  const secret = 'a-secret-shared-by-every-host-0123456789';
  const elsewhere = mkdtempSync(join(tmpdir(), 'svc-secret-'));
  const secretFile = join(elsewhere, 'cluster.secret');

  beforeAll(async () => {
    writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
    await hosts.instance('conf/greeting.yml', { env: { SVC_SECRET: secret } });
  }, 60_000);
  afterAll(async () => {
    await hosts.stop();
    rmSync(elsewhere, { recursive: true, force: true });
  });

  const request = (extra: Record<string, string>) =>
    hosts.run(['request', 'Greeting.greet', '{"name":"Ann"}'], { env: extra });

  it('lets in a process with the same secret from the environment or from a file elsewhere', async () => {
    const fromEnv = await request({ SVC_SECRET: secret });
    expect(fromEnv.stdout).toContain('Hi, Ann!');
    const fromFile = await request({ SVC_SECRET_FILE: secretFile });
    expect(fromFile.stdout).toContain('Hi, Ann!');
  });

  it('refuses a process with another secret, which says why', async () => {
    const other = await request({ SVC_SECRET: 'another-secret-of-another-cluster-000' });
    expect(other.code).not.toBe(0);
    expect(other.stderr).toMatch(/cannot authenticate with tcp:\/\/127\.0\.0\.1:\d+/);
    // Without one, the local default file of this user is another secret too.
    const local = await request({});
    expect(local.code).not.toBe(0);
    expect(local.stderr).toMatch(/does not know this cluster secret/);
  });
});
