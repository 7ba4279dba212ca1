// The dashboard's server with fifty in-process instances on a memory hub.
import { rmSync } from 'node:fs';
import { ClusterClient, Instance } from '@svc/core';
import { MemoryHub, testConfig } from '@svc/core/testing';
import { createLogStream } from '@svc/tail';
import { afterAll, describe, expect, it } from 'vitest';
import { startDashboard } from './server.js';
import { Greeting, testAuth, until, webFiles } from './server.fixture.js';

const webDir = webFiles();
afterAll(() => rmSync(webDir, { recursive: true, force: true }));

describe('the dashboard with fifty instances', () => {
  it('lists all fifty with their figures in one reading each page gets', async () => {
    const bigHub = new MemoryHub();
    const many: Instance[] = [];
    const bigClient = new ClusterClient(bigHub.connect(), { name: 'test', auth: testAuth });
    try {
      await Promise.all(
        Array.from({ length: 50 }, async () => {
          const logs = createLogStream();
          const instance = new Instance({
            config: testConfig([Greeting]),
            backends: bigHub.connect(),
            classes: { Greeting },
            sinks: [logs],
            extensions: [logs],
          });
          many.push(instance);
          await instance.start();
        }),
      );
      await using big = await startDashboard({
        client: bigClient,
        cluster: 'big',
        port: 0,
        webDir,
        intervalMs: 200,
      });
      await until(
        () => big.view.snapshot.instances.filter((i) => i.figures !== undefined).length === 50,
        'figures of fifty instances',
        20_000,
      );
      expect(big.view.snapshot.services.map((s) => s.name)).toEqual(['Greeting']);
      expect(big.view.snapshot.services[0]!.instances).toHaveLength(50);
      // The log follower holds one connection to each instance's stream.
      await until(() => many.every((i) => i.endpoints['logs'] !== undefined), 'log streams');
    } finally {
      await Promise.allSettled(many.map((i) => i.stop({ graceMs: 0 })));
      await bigClient.close();
    }
  }, 60_000);
});
