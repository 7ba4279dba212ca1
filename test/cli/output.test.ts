// A command's output is whole even when it is larger than a pipe holds and
// its reader is slow: the CLI exits only once stdout has taken everything.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proc, SVC_BIN, TestEnv, requireBuild } from '../support/svc.js';

const env = new TestEnv();
beforeAll(() => requireBuild());
afterAll(() => env.stop());

describe('svc output to a pipe', () => {
  it('prints all of a large `svc discover --json` to a reader that starts late', async () => {
    const client = await env.client();
    try {
      // 600 records of this (live) process: about 250 KB of JSON, four pipes' worth.
      for (let i = 0; i < 600; i++) {
        await client.backends.registry.register({
          id: randomBytes(8).toString('hex'),
          service: `Big${i % 20}`,
          host: '127.0.0.1',
          pid: process.pid,
          startedAt: Date.now(),
          endpoints: {
            rpc: `tcp://127.0.0.1:${10_000 + i}`,
            logs: `tcp://127.0.0.1:${20_000 + i}`,
          },
          subscriptions: [{ type: 'greeted', mode: 'pool', handler: 'on_greeted' }],
        });
      }
      const child = spawn(process.execPath, [SVC_BIN, 'discover', '--json'], {
        env: env.env(),
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout.pause();
      setTimeout(() => child.stdout.resume(), 1000);
      const proc = new Proc(child);
      expect((await proc.exited).code).toBe(0);
      // 'close' of stdout may come before or after the child's 'exit'.
      if (!child.stdout.closed) await new Promise((r) => child.stdout.once('close', r));
      const services = JSON.parse(proc.stdout) as Record<string, unknown[]>;
      expect(Object.values(services).reduce((n, list) => n + list.length, 0)).toBe(600);
    } finally {
      await client.close();
    }
  });
});
