import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Cluster, fixture, markedPids, sleep, until } from './helpers.js';

let cluster: Cluster | undefined;
afterEach(() => {
  cluster?.cleanup();
  cluster = undefined;
});

describe('svc node mistakes', () => {
  it('rejects a bad config with one line naming the file and the key (exit 2)', () => {
    cluster = new Cluster('instances:\n  Web: { command: node x.js, numprocesses: two }\n');
    const r = cluster.svc('node', '--config', cluster.config);
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `svc: ${cluster.config}: instances.Web.numprocesses: expected an integer from 1 to 1024, got "two"\n`,
    );
    expect(r.stdout).toBe('');
  });

  it('rejects unknown keys, and finds .svc.yml in the current folder', () => {
    cluster = new Cluster(
      'instances:\n  Web: { command: node x.js }\nsocket:\n  Web: { port: 1 }\n',
    );
    const r = cluster.svc('node');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(
      `svc: ${cluster.config}: socket: unknown key (expected one of: instances, sockets, metrics)\n`,
    );
  });

  it('reports a missing config file', () => {
    cluster = new Cluster('');
    const r = cluster.svc('node', '--config', 'nope.yml');
    expect(r.status).toBe(2);
    expect(r.stderr).toBe(`svc: ${cluster.dir}/nope.yml: cannot read the file (ENOENT)\n`);
  });

  it('reports a shared port already in use, and starts nothing', async () => {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      cluster = new Cluster(
        `instances:\n  Web: { command: node ${fixture('server.mjs')} }\nsockets:\n  Web: { port: ${port} }\n`,
      );
      const r = cluster.svc('node', '--config', cluster.config);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(
        `svc: cannot bind 127.0.0.1:${port}: EADDRINUSE (address already in use)\n`,
      );
      expect(r.stdout).toBe('');
    } finally {
      server.close();
    }
  });

  it('rejects a bad option value', () => {
    cluster = new Cluster('instances:\n  A: { command: node x.js }\n');
    const r = cluster.svc('node', '--grace', 'soon');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--grace: expected a number >= 0, got "soon"');
  });

  it('says so when no supervisor runs for the config', () => {
    cluster = new Cluster('instances:\n  A: { command: node x.js }\n');
    for (const args of [['status'], ['restart', 'A']]) {
      const r = cluster.svc('node', ...args);
      expect(r.status).toBe(2);
      expect(r.stderr).toBe(
        `svc: no svc node is running for ${cluster.config} (start one with \`svc node\` in its folder, or pass --config)\n`,
      );
    }
  });

  it('refuses a second supervisor for the same config, and a second Ctrl-C forces the first to stop', async () => {
    cluster = new Cluster(`instances:\n  Stubborn: { command: node ${fixture('stubborn.mjs')} }\n`);
    cluster.start('--grace', '30');
    await cluster.running(1);
    const second = cluster.svc('node');
    expect(second.status).toBe(2);
    expect(second.stderr).toMatch(/^svc: an svc node already runs for .*\.svc\.yml \(pid \d+\)\n$/);

    // npm and npx forward the terminal's Ctrl-C: a duplicate right behind the first does not force.
    cluster.proc?.kill('SIGINT');
    cluster.proc?.kill('SIGINT');
    await cluster.waitOutput(/Ctrl-C again to force/);
    await cluster.waitOutput(/ignoring SIGTERM/);
    await sleep(700);
    expect(cluster.output).not.toContain('again: killing');
    cluster.proc?.kill('SIGINT');
    expect(await cluster.exit).toEqual({ code: 130, signal: null });
    expect(cluster.output).toContain('SIGINT again: killing every process now');
    await until('every process gone', () => markedPids(cluster?.mark ?? '').length === 0, 5000);
  });

  it('runs a command starting with svc with this very svc, without needing it on PATH', async () => {
    cluster = new Cluster('instances:\n  Version: { command: svc --version }\n');
    cluster.start('--max-crashes', '1');
    await cluster.waitOutput(/held off/);
    expect(cluster.output).toMatch(/^Version\.0 +\| 0\.1\.0$/m);
    expect(cluster.output).toMatch(/Version\.0 \(pid \d+\) exited with code 0/);
  });
});
