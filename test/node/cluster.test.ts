import { existsSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { controlSocketPath } from '@svc/node';
import { Cluster, environOf, fixture, freePort, get, markedPids, until } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(() => {
  cluster?.cleanup();
  cluster = undefined;
});

describe('svc node', () => {
  it('runs numprocesses of each instance, shares the socket among them, supervises plain commands and stops cleanly', async () => {
    const port = await freePort();
    cluster = new Cluster(`instances:
  Web: { command: node ${fixture('server.mjs')}, numprocesses: 3 }
  Sleep: { command: node ${fixture('sleeper.mjs')}, numprocesses: 2 }
  Plain: { command: "sleep 300 | cat" }
sockets:
  Web: { port: ${port} }
`);
    cluster.start();
    const rows = await cluster.running(6);
    expect(rows.map((r) => `${r.name}.${r.index}`)).toEqual([
      'Web.0',
      'Web.1',
      'Web.2',
      'Sleep.0',
      'Sleep.1',
      'Plain.0',
    ]);

    // Each listed pid is a live process carrying its name, index and the env contract.
    for (const row of rows) {
      const env = environOf(row.pid as number);
      expect(env?.SVC_INSTANCE_NAME).toBe(row.name);
      expect(env?.SVC_INSTANCE_INDEX).toBe(String(row.index));
      expect(env?.SVC_NODE).toBe('1');
      expect(env?.SVC_CLUSTER).toBe(process.env.SVC_CLUSTER || 'default');
      expect(env?.SVC_READY_FD).toBe('4');
      expect(env?.SVC_SOCKET_FD).toBe(row.name === 'Web' ? '3' : undefined);
      expect(env?.SVC_SOCKET_PORT).toBe(row.name === 'Web' ? String(port) : undefined);
    }
    // supervisor, watchdog, 3 Web, 2 Sleep, and the plain command's sh, sleep and cat
    expect(markedPids(cluster.mark).length).toBe(10);
    await cluster.waitOutput(/^Sleep\.0 +\| sleeper Sleep\.0 up$/m);
    await cluster.waitOutput(/^Sleep\.1 +\| sleeper Sleep\.1 up$/m);
    await cluster.serving(3);

    // Requests to the one port are answered by several of the Web processes.
    const webPids = new Set(rows.filter((r) => r.name === 'Web').map((r) => r.pid));
    const seen = new Set<number>();
    for (let i = 0; i < 40 && seen.size < 2; i++) {
      const reply = await get(port);
      expect(webPids.has(reply.pid)).toBe(true);
      seen.add(reply.pid);
    }
    expect(seen.size).toBeGreaterThan(1);

    cluster.proc?.kill('SIGINT');
    expect(await cluster.exit).toEqual({ code: 0, signal: null });
    await until('every process gone', () => markedPids(cluster?.mark ?? '').length === 0, 5000);
    expect(cluster.output).toContain('[svc node] stopped');
    expect(existsSync(controlSocketPath(cluster.config))).toBe(false);
    await expect(get(port)).rejects.toThrow(/ECONNREFUSED/);
  });

  it('restarts a SIGKILLed child, which serves again on the shared socket', async () => {
    const port = await freePort();
    cluster = new Cluster(`instances:
  Web: { command: node ${fixture('server.mjs')} }
sockets:
  Web: { port: ${port} }
`);
    cluster.start();
    const [before] = await cluster.running(1);
    await cluster.serving(1);
    const oldPid = before?.pid as number;
    expect((await get(port)).pid).toBe(oldPid);
    process.kill(oldPid, 'SIGKILL');
    const [after] = await until('a new Web.0', async () => {
      const rows = (await cluster?.status()) ?? [];
      return rows[0]?.state === 'running' && rows[0].pid !== oldPid ? rows : undefined;
    });
    expect(after?.restarts).toBe(1);
    await cluster.waitOutput(
      new RegExp(`Web\\.0 \\(pid ${oldPid}\\) was killed by SIGKILL after [\\d.]+s; restart #1`),
    );
    expect((await get(port)).pid).toBe(after?.pid);
  });

  it('leaves no process behind when the supervisor itself is SIGKILLed', async () => {
    const port = await freePort();
    cluster = new Cluster(`instances:
  Web: { command: node ${fixture('server.mjs')}, numprocesses: 2 }
  Stubborn: { command: node ${fixture('stubborn.mjs')} }
  Plain: { command: "sleep 300 | cat" }
sockets:
  Web: { port: ${port} }
`);
    cluster.start('--grace', '1');
    await cluster.running(4);
    await cluster.serving(2);
    await cluster.waitOutput(/Stubborn\.0 +\| stubborn up/);
    const before = markedPids(cluster.mark);
    // supervisor, watchdog, 2 Web, Stubborn, and sh + sleep + cat
    expect(before.length).toBe(8);
    cluster.proc?.kill('SIGKILL');
    await cluster.exit;
    // The watchdog SIGTERMs every group, then SIGKILLs the stubborn one after the grace period.
    await until('every process gone', () => markedPids(cluster?.mark ?? '').length === 0, 10_000);
    await expect(get(port)).rejects.toThrow(/ECONNREFUSED/);
    // The watchdog removed the dead supervisor's control socket too.
    expect(existsSync(controlSocketPath(cluster.config))).toBe(false);
    const status = cluster.svc('node', 'status');
    expect(status.status).toBe(2);
    expect(status.stderr).toMatch(/^svc: no svc node is running for /);
  });

  it('kills a child that ignores SIGTERM after the grace period and still exits 0', async () => {
    cluster = new Cluster(`instances:
  Stubborn: { command: node ${fixture('stubborn.mjs')} }
`);
    cluster.start('--grace', '0.5');
    await cluster.running(1);
    await cluster.waitOutput(/stubborn up/);
    cluster.proc?.kill('SIGTERM');
    expect(await cluster.exit).toEqual({ code: 0, signal: null });
    expect(cluster.output).toMatch(/Stubborn\.0 +\| ignoring SIGTERM/);
    expect(cluster.output).toMatch(/still running 0\.5s after SIGTERM: SIGKILL/);
    await until('every process gone', () => markedPids(cluster?.mark ?? '').length === 0, 5000);
  });
});
