// The lymph tour across three "hosts": network namespaces on a private
// subnet, joined by a bridge. ZooKeeper (the registry) runs in the root
// namespace and is reached through a forwarder on the bridge address;
// events go the embedded way (`local`: ZeroMQ between instances, found
// through ZooKeeper), so no RabbitMQ is needed here. Every instance binds
// either its own address or every interface, and publishes the address
// the other hosts reach it at. Every process runs in a pid namespace of its
// own, so that, as on real hosts, no process can tell that one on another
// host is gone but through the network.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { InstanceConfig } from '@svc/core';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { FIXTURES, REPO, requireBuild, type Proc } from '../support/svc.js';
import { Hosts, forward } from './support/netns.js';

const hosts = new Hosts('svch', '10.231.7', ['a', 'b', 'c'], { ownPids: true });
const cluster = `hosts${randomBytes(3).toString('hex')}`;
const procs: Proc[] = [];
let zk: { port: number; close(): Promise<void> } | undefined;
let baseEnv: NodeJS.ProcessEnv;
let webUrl: string;
const greeting: Record<'b' | 'c', Proc> = {} as Record<'b' | 'c', Proc>;
const listen: Proc[] = [];

function envFor(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...baseEnv, ...extra };
}

async function start(host: string, config: string, extra: Record<string, string>): Promise<Proc> {
  const p = hosts.svc(host, ['instance', '--config', config], envFor(extra));
  procs.push(p);
  await p.waitFor(
    (x) => x.hasLog((l) => l.msg.startsWith('started ')),
    `${config} on ${host}`,
    30_000,
  );
  return p;
}

async function svc(
  host: string,
  args: string[],
  extra: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const p = hosts.svc(host, args, envFor(extra));
  procs.push(p);
  const { code } = await p.exited;
  return { code, stdout: p.stdout, stderr: p.stderr };
}

const started = (p: Proc) => p.logs().find((l) => l.msg.startsWith('started '))!.msg;
const heard = (name: string) =>
  listen.flatMap((p) => p.logs()).filter((l) => l.msg === `Somebody greeted ${name}`);

beforeAll(async () => {
  requireBuild();
  Hosts.check();
  execFileSync('bash', [`${REPO}/scripts/zookeeper.sh`], { stdio: 'inherit' });
  hosts.create();
  zk = await forward(hosts.gateway, { host: '127.0.0.1', port: 2181 });
  baseEnv = {
    ...process.env,
    SVC_CLUSTER: cluster,
    SVC_LOG_FORMAT: 'json',
    NO_COLOR: '1',
    SVC_REGISTRY: `zookeeper://${hosts.gateway}:${zk.port}/svc-test-${cluster}`,
    SVC_RPC: 'net',
    SVC_EVENTS: 'local',
    // Across hosts the cluster secret comes from the environment (or config), the same on each.
    SVC_SECRET: randomBytes(24).toString('base64'),
  };
  const [b, c] = [hosts.address('b'), hosts.address('c')];
  // Both ways of saying where to listen: every interface plus the address to publish, or one address.
  [greeting.b, greeting.c] = await Promise.all([
    start('b', 'conf/greeting.yml', { SVC_BIND_HOST: '0.0.0.0', SVC_ADVERTISE_HOST: b }),
    start('c', 'conf/greeting.yml', { SVC_BIND_HOST: c }),
  ]);
  listen.push(
    ...(await Promise.all([
      start('b', 'conf/listen.yml', { SVC_BIND_HOST: b }),
      start('c', 'conf/listen.yml', { SVC_BIND_HOST: '0.0.0.0', SVC_ADVERTISE_HOST: c }),
    ])),
  );
  const web = await start('a', 'conf/web.yml', {
    WEB_PORT: '0',
    SVC_HTTP_HOST: '0.0.0.0',
    SVC_BIND_HOST: '0.0.0.0',
    SVC_ADVERTISE_HOST: hosts.address('a'),
  });
  webUrl = /(http:\/\/[\d.]+:\d+)/.exec(started(web))![1]!;
}, 120_000);

afterAll(async () => {
  // SIGTERM to svc itself, for a clean stop (`unshare` would pass on a SIGKILL only).
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) continue;
    try {
      process.kill(hosts.commandPid(p), 'SIGTERM');
    } catch {
      p.child.kill('SIGTERM');
    }
  }
  await Promise.race([
    Promise.all(procs.map((p) => p.exited)),
    new Promise((r) => setTimeout(r, 5000)),
  ]);
  for (const p of procs)
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await zk?.close();
  hosts.destroy();
});

describe('the tour across three hosts (ZooKeeper, net, local events)', () => {
  it('publishes every listener at the address the other hosts reach, never a wildcard', () => {
    expect(started(greeting.b)).toMatch(
      new RegExp(`rpc tcp://${hosts.address('b').replaceAll('.', '\\.')}:\\d+`),
    );
    expect(started(greeting.c)).toContain(`rpc tcp://${hosts.address('c')}:`);
    for (const p of [greeting.b, greeting.c, ...listen]) {
      expect(started(p)).not.toMatch(/0\.0\.0\.0|127\.0\.0\.1/);
    }
    expect(webUrl).toMatch(
      new RegExp(`^http://${hosts.address('a').replaceAll('.', '\\.')}:\\d+$`),
    );
  });

  it('discovers every instance from another host', async () => {
    const { stdout, code } = await svc('a', ['discover']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual(['Greeting [2]', 'Listen [2]', 'Web [1]']);
  });

  it('calls Greeting from host a, and the greeted event reaches exactly one Listen', async () => {
    expect(await svc('a', ['request', 'Greeting.greet', '{"name": "Hosted"}'])).toMatchObject({
      code: 0,
      stdout: "'Hi, Hosted!'\n",
    });
    await expect.poll(() => heard('Hosted').length, { timeout: 15_000 }).toBe(1);
  });

  it('serves HTTP from host a, through RPC on b or c, with one trace id to the event', async () => {
    const res = await fetch(`${webUrl}/greet?name=Across`);
    expect(await res.text()).toBe('Hi, Across!');
    const traceId = res.headers.get('x-trace-id');
    await expect
      .poll(() => heard('Across').map((l) => l.traceId), { timeout: 15_000 })
      .toEqual([traceId]);
  });

  it('follows one trace from host a through the log streams of all three hosts', async () => {
    const res = await fetch(`${webUrl}/greet?name=Traced`);
    const traceId = res.headers.get('x-trace-id')!;
    await expect.poll(() => heard('Traced').length, { timeout: 15_000 }).toBe(1);
    const { code, stdout } = await svc('a', ['tail', '--trace', traceId, '--no-follow', '--json']);
    expect(code).toBe(0);
    const msgs = stdout
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { msg: string }).msg);
    expect(msgs).toEqual(
      expect.arrayContaining([
        'About to greet Traced',
        'Saying hi to Traced',
        'Somebody greeted Traced',
      ]),
    );
  });

  it('spreads calls over the Greetings of both hosts', async () => {
    for (let i = 0; i < 6; i++)
      expect(await (await fetch(`${webUrl}/greet?name=Spread${i}`)).text()).toBe(`Hi, Spread${i}!`);
    const served = (p: Proc) =>
      p.logs().filter((l) => l.msg.startsWith('Saying hi to Spread')).length;
    // Log lines follow the answers by up to 10 ms (they are written in batches).
    await expect.poll(() => served(greeting.b)).toBeGreaterThan(0);
    await expect.poll(() => served(greeting.c)).toBeGreaterThan(0);
  });

  it('fails no HTTP request made after kill -9 of the Greeting on host b, long before ZooKeeper notices', async () => {
    // A steady load on Web (host a), whose calls go to the Greetings of b and c.
    const outcomes: { started: number; ok: boolean; status?: number }[] = [];
    let running = true;
    let next = 0;
    const loops = Array.from({ length: 4 }, async () => {
      while (running) {
        const n = next++;
        const started = Date.now();
        const res = await fetch(`${webUrl}/greet?name=Load${n}`).catch(() => undefined);
        const ok = res?.status === 200 && (await res.text()) === `Hi, Load${n}!`;
        outcomes.push({ started, ok, ...(res ? { status: res.status } : {}) });
      }
    });
    let exitedAt = Infinity;
    try {
      await new Promise((r) => setTimeout(r, 500));
      // No process on a or c can see b's: only refused connections tell them.
      process.kill(hosts.commandPid(greeting.b), 'SIGKILL');
      await greeting.b.exited;
      exitedAt = Date.now();
      // ZooKeeper still lists b's instance (its session outlives it by seconds), so a new CLI
      // on host a finds both; its calls go to c all the same.
      expect((await svc('a', ['discover'])).stdout).toContain('Greeting [2]');
      for (const name of ['Fresh1', 'Fresh2', 'Fresh3']) {
        expect(await svc('a', ['request', 'Greeting.greet', `{"name": "${name}"}`])).toMatchObject({
          code: 0,
          stdout: `'Hi, ${name}!'\n`,
        });
      }
      await new Promise((r) => setTimeout(r, 500));
    } finally {
      running = false;
      await Promise.all(loops);
    }
    const after = outcomes.filter((o) => o.started > exitedAt);
    expect(after.length).toBeGreaterThan(20);
    expect(after.filter((o) => !o.ok)).toEqual([]);
    // Only a call in flight on b as it died may fail: greet is not marked idempotent, so it
    // is not repeated (at most once).
    expect(outcomes.filter((o) => !o.ok).length).toBeLessThanOrEqual(4);

    // Once ZooKeeper has dropped b's session, a new CLI finds c alone; events still flow.
    await expect
      .poll(async () => (await svc('a', ['discover'])).stdout, { timeout: 30_000, interval: 500 })
      .toContain('Greeting [1]');
    expect(await svc('a', ['request', 'Greeting.greet', '{"name": "Survivor"}'])).toMatchObject({
      code: 0,
      stdout: "'Hi, Survivor!'\n",
    });
    await expect.poll(() => heard('Survivor').length, { timeout: 15_000 }).toBe(1);
  });
});

describe('RPC on zmq across hosts', () => {
  it('answers a caller on another host that holds the cluster secret, and refuses one that does not (CURVE)', async () => {
    const zmq = { SVC_RPC: 'zmq' };
    const echo = await start('c', `${FIXTURES}/echo/echo.yml`, {
      ...zmq,
      SVC_BIND_HOST: hosts.address('c'),
    });
    const endpoint = /\brpc (tcp:\/\/[\d.]+:\d+)/.exec(started(echo))![1]!;
    expect(endpoint).toContain(`tcp://${hosts.address('c')}:`);
    const answered = await svc('a', ['request', 'Echo.whoami', '{}'], zmq);
    expect(answered.code, answered.stderr).toBe(0);
    expect(answered.stdout).toMatch(/^\d+\n$/);
    const refused = await svc(
      'a',
      ['request', 'Echo.whoami', '{}', '--address', endpoint, '--timeout', '3000'],
      { ...zmq, SVC_SECRET: randomBytes(24).toString('base64') },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toContain(`cannot authenticate with ${endpoint}: the CURVE handshake`);
  });
});

describe('the address settings users see', () => {
  it('types the resolved addresses and the TLS switch of an instance config', () => {
    expectTypeOf<InstanceConfig['bindHost']>().toEqualTypeOf<string>();
    expectTypeOf<InstanceConfig['advertiseHost']>().toEqualTypeOf<string>();
    expectTypeOf<InstanceConfig['rpcTls']>().toEqualTypeOf<boolean>();
    expectTypeOf<InstanceConfig['http']['advertise']>().toEqualTypeOf<string | undefined>();
  });
});
