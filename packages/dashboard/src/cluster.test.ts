// The dashboard's readings beside an `svc node` that does not answer: one whose event loop is
// held, as while it starts fifty processes (its control socket takes the connection, then
// nothing comes back until every process is started).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClusterClient, Instance } from '@svc/core';
import { MemoryHub, testConfig } from '@svc/core/testing';
import { controlSocketPath, type NodeStatus } from '@svc/node';
import { afterAll, describe, expect, it } from 'vitest';
import { startDashboard } from './server.js';
import { Greeting, testAuth, until, webFiles } from './server.fixture.js';

const webDir = webFiles();
const dir = mkdtempSync(join(tmpdir(), 'svc-dashboard-node-'));
const config = join(dir, '.svc.yml');
afterAll(() => {
  rmSync(webDir, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  // Closing the server removes it, unless the test never got there.
  rmSync(controlSocketPath(config), { force: true });
});

/** A control socket that answers `status` while `answering`, and else takes requests and keeps them. */
async function supervisor(config: string) {
  const status: NodeStatus = {
    config,
    pid: process.pid,
    startedAt: Date.now(),
    sockets: [],
    processes: [],
  };
  const held = new Set<Socket>();
  const state = { answering: false };
  const server = createServer((sock) => {
    sock.on('error', () => {});
    sock.once('data', () => {
      if (state.answering) sock.end(`${JSON.stringify({ ok: true, result: status })}\n`);
      else held.add(sock);
    });
  });
  const path = controlSocketPath(config, true);
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    state,
    held,
    close: () => {
      for (const sock of held) sock.destroy();
      server.close();
    },
  };
}

describe('the dashboard beside an svc node that does not answer', () => {
  it('starts and reads the instances without waiting for it, and keeps what it said last', async () => {
    writeFileSync(config, 'instances: {}\n');
    const node = await supervisor(config);
    const hub = new MemoryHub();
    const instance = new Instance({
      config: testConfig([Greeting]),
      backends: hub.connect(),
      classes: { Greeting },
    });
    await instance.start();
    const client = new ClusterClient(hub.connect(), { name: 'test', auth: testAuth });
    try {
      // Before the readings' bound, the dashboard never started: its first reading waited.
      await using dashboard = await startDashboard({
        client,
        cluster: 'test',
        port: 0,
        webDir,
        intervalMs: 200,
        nodeConfig: config,
      });
      expect(node.held.size).toBeGreaterThan(0);
      expect(dashboard.view.snapshot.node?.running).toBe(false);
      expect(dashboard.view.snapshot.node?.error).toMatch(/did not answer within 800 ms/);
      // Readings go on, each with the instance's figures.
      const reads = dashboard.view.reads;
      await until(() => dashboard.view.reads >= reads + 2, 'two more readings');
      expect(dashboard.view.snapshot.instances.map((i) => i.figures !== undefined)).toEqual([true]);

      node.state.answering = true;
      await until(() => dashboard.view.snapshot.node?.running, 'the node to be read');
      expect(dashboard.view.snapshot.node?.status?.pid).toBe(process.pid);
      // Silent again: its last status stands, with why it is not fresh.
      node.state.answering = false;
      await until(() => dashboard.view.snapshot.node?.error, 'a reading without the node');
      expect(dashboard.view.snapshot.node).toMatchObject({
        running: true,
        status: { pid: process.pid },
      });
      expect(dashboard.view.snapshot.node?.error).toMatch(/did not answer within 800 ms/);
    } finally {
      node.close();
      await instance.stop({ graceMs: 0 });
      await client.close();
    }
  }, 20_000);
});
