import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, fixture, freePort, get, type HttpReply } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(() => {
  cluster?.cleanup();
  cluster = undefined;
});

/** Sends requests on fresh connections, two at a time, until stopped; records every reply and failure. */
function requestStream(port: number) {
  const replies: HttpReply[] = [];
  const failures: string[] = [];
  let running = true;
  const loop = async () => {
    while (running) {
      try {
        replies.push(await get(port));
      } catch (err) {
        failures.push(String(err));
      }
    }
  };
  const loops = [loop(), loop()];
  return {
    replies,
    failures,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

function webCluster(port: number): Cluster {
  const c = new Cluster(`instances:
  Web: { command: node ${fixture('server.mjs')}, numprocesses: 2, cwd: web }
  Sleep: { command: node ${fixture('sleeper.mjs')}, cwd: other }
sockets:
  Web: { port: ${port} }
`);
  mkdirSync(join(c.dir, 'web'));
  mkdirSync(join(c.dir, 'other'));
  writeFileSync(join(c.dir, 'web', 'version.txt'), 'v1');
  return c;
}

describe('svc node reloads', () => {
  it('--watch restarts the changed instance one process at a time, answering every request meanwhile', async () => {
    const port = await freePort();
    cluster = webCluster(port);
    cluster.start('--watch');
    const before = await cluster.running(3);
    await cluster.serving(2);
    await cluster.waitOutput(/\[svc node\] watching /);
    expect((await get(port)).version).toBe('v1');

    const stream = requestStream(port);
    try {
      writeFileSync(join(cluster.dir, 'web', 'version.txt'), 'v2');
      await cluster.waitOutput(/Web\.1: reloaded, pid \d+ is ready; stopping pid \d+/);
      // The old processes are gone once the reload is through; then v2 answers alone.
      await cluster.running(3);
    } finally {
      await stream.stop();
    }
    expect(stream.failures).toEqual([]);
    expect(stream.replies.length).toBeGreaterThan(10);
    expect(stream.replies.some((r) => r.version === 'v1')).toBe(true);
    expect(stream.replies.some((r) => r.version === 'v2')).toBe(true);
    const after = await cluster.status();
    // Only Web (whose folder changed) was restarted, once per process.
    expect(after.map((r) => [r.name, r.restarts])).toEqual([
      ['Web', 1],
      ['Web', 1],
      ['Sleep', 0],
    ]);
    expect(after[2]?.pid).toBe(before[2]?.pid);
    for (let i = 0; i < 6; i++) expect((await get(port)).version).toBe('v2');
  });

  it('svc node restart NAME does the same rolling restart from another terminal', async () => {
    const port = await freePort();
    cluster = webCluster(port);
    cluster.start();
    const before = await cluster.running(3);
    await cluster.serving(2);
    const stream = requestStream(port);
    let restart: ReturnType<Cluster['svc']>;
    try {
      restart = await cluster.svcAsync('node', 'restart', 'Web', '--config', cluster.config);
    } finally {
      await stream.stop();
    }
    expect(restart.stderr).toBe('');
    expect(restart.stdout).toBe('restarted Web\n');
    expect(restart.status).toBe(0);
    expect(stream.failures).toEqual([]);
    const servedBy = new Set(stream.replies.map((r) => r.pid));

    const table = cluster.svc('node', 'status', '--config', cluster.config);
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(
      /^svc node \(pid \d+\) running .*\.svc\.yml; sockets: Web on 127\.0\.0\.1:\d+$/,
    );
    expect(lines[1]).toMatch(/^NAME +INDEX +PID +STATE +RESTARTS +UPTIME$/);
    expect(lines.slice(2).map((l) => l.split(/ +/))).toEqual([
      ['Web', '0', expect.stringMatching(/^\d+$/), 'running', '1', expect.stringMatching(/^\d+s$/)],
      ['Web', '1', expect.stringMatching(/^\d+$/), 'running', '1', expect.stringMatching(/^\d+s$/)],
      ['Sleep', '0', String(before[2]?.pid), 'running', '0', expect.stringMatching(/^\d+s$/)],
    ]);
    const newPids = lines.slice(2, 4).map((l) => Number(l.split(/ +/)[2]));
    expect(newPids).not.toContain(before[0]?.pid);
    expect(newPids).not.toContain(before[1]?.pid);
    // Requests went on through the whole restart: old and new processes answered them.
    expect(servedBy.has(before[0]?.pid as number) || servedBy.has(before[1]?.pid as number)).toBe(
      true,
    );
    expect(newPids.some((pid) => servedBy.has(pid))).toBe(true);

    const unknown = cluster.svc('node', 'restart', 'Nope', '--config', cluster.config);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toBe('svc: no instance named Nope (instances: Web, Sleep)\n');
  });

  it('keeps the old processes serving when the new one dies before it is ready', async () => {
    const port = await freePort();
    cluster = webCluster(port);
    cluster.start();
    const before = await cluster.running(3);
    await cluster.serving(2);
    writeFileSync(join(cluster.dir, 'web', 'version.txt'), 'broken');
    const restart = await cluster.svcAsync('node', 'restart', 'Web', '--config', cluster.config);
    expect(restart.status).toBe(1);
    expect(restart.stderr).toMatch(
      /^svc: restart of Web failed: Web\.0: the new process \(pid \d+\) exited with code 1 before it was ready; it said: this version does not start\n$/,
    );
    await cluster.waitOutput(/the old one \(pid \d+\) keeps running/);
    expect(cluster.output).toMatch(/Web\.0 +\| this version does not start/);
    const after = await cluster.status();
    expect(after.map((r) => [r.pid, r.state, r.restarts])).toEqual(
      before.map((r) => [r.pid, 'running', 0]),
    );
    const reply = await get(port);
    expect(reply.version).toBe('v1');
  });

  it('holds off a process that keeps crashing right after its start', async () => {
    cluster = new Cluster(`instances:
  Crash: { command: node ${fixture('crasher.mjs')} }
  Sleep: { command: node ${fixture('sleeper.mjs')} }
`);
    // A long --ready-delay: a slow machine must not take the crasher for ready before it dies.
    cluster.start('--backoff', '50', '--max-crashes', '3', '--ready-delay', '8000');
    await cluster.waitOutput(/held off/);
    const rows = await cluster.status();
    expect(rows[0]).toMatchObject({
      name: 'Crash',
      pid: null,
      state: 'held',
      restarts: 2,
      reason:
        'exited with code 3, 3 quick crashes in a row; it said: crashing on purpose; run `svc node restart Crash` once fixed',
    });
    expect(rows[1]).toMatchObject({ name: 'Sleep', restarts: 0 });
    expect(rows[1]?.pid).toBeGreaterThan(0);
    expect(cluster.output).toMatch(/Crash\.0 +\| crashing on purpose/);
    // The delay doubles, each time up to a fifth shorter at random.
    const output = cluster.output;
    const delay = (n: number) =>
      Number(
        new RegExp(
          `Crash\\.0 \\(pid \\d+\\) exited with code 3 after [\\d.]+s; restart #${n} in (\\d+) ms`,
        ).exec(output)?.[1],
      );
    expect(delay(1)).toBeGreaterThanOrEqual(40);
    expect(delay(1)).toBeLessThanOrEqual(50);
    expect(delay(2)).toBeGreaterThanOrEqual(80);
    expect(delay(2)).toBeLessThanOrEqual(100);
    expect(cluster.output).toMatch(
      /Crash\.0 \(pid \d+\) exited with code 3 after [\d.]+s; it crashed 3 times in a row within 3s of starting: held off \(run `svc node restart Crash` once fixed\)/,
    );
    expect(cluster.output.match(/Crash\.0 started/g)).toHaveLength(3);

    // A manual restart tries again (and, still broken, fails and is held off again).
    const restart = cluster.svc('node', 'restart', 'Crash', '--config', cluster.config);
    expect(restart.stderr).toMatch(
      /^svc: restart of Crash failed: Crash\.0 \(pid \d+\) exited with code 3 before it was ready; it said: crashing on purpose\n$/,
    );
    expect(restart.status).toBe(1);
    await cluster.waitOutput(/held off[^]*held off/);
    expect(cluster.output.match(/Crash\.0 started/g)).toHaveLength(6);
  });
});
