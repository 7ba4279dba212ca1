import { describe, expect, it } from 'vitest';
import { rpc } from './decorators.js';
import { Hooks, type Plugin } from './hooks.js';
import { Service } from './service.js';
import { RPC } from './typed.js';
import { testCluster } from './testing/index.js';

describe('plugin hooks', () => {
  it('refuses a plugin with a hook name outside the closed list', () => {
    const hooks = new Hooks();
    expect(() => hooks.add({ name: 'typo', onErorr: () => {} } as Plugin)).toThrow(
      'plugin typo: unknown hook "onErorr" (hooks: onError, onHttpRequest, onWorkerStart, onWorkerEnd, onServiceStart, onServiceStop)',
    );
    expect(() => hooks.add({ onError: 'nope' } as unknown as Plugin)).toThrow(
      'hook "onError" must be a function',
    );
  });

  it('calls worker hooks around every worker and onError for unexpected failures, and survives a failing hook', async () => {
    const seen: string[] = [];
    const plugin: Plugin = {
      name: 'recorder',
      onServiceStart: (s) => void seen.push(`start ${s}`),
      onWorkerStart: (w) => void seen.push(`worker ${w.method}`),
      onWorkerEnd: (w, r) => void seen.push(`end ${w.method} ${r.error ? 'failed' : 'ok'}`),
      onError: (err) => void seen.push(`error ${(err as Error).message}`),
    };
    const broken: Plugin = {
      name: 'broken',
      onWorkerStart: () => {
        throw new Error('hook bug');
      },
    };
    class Svc extends Service {
      static override readonly serviceName = 'Svc';
      declare [RPC]: 'ok' | 'bad';
      @rpc() ok() {
        return 1;
      }
      @rpc() bad() {
        throw new Error('boom');
      }
    }
    await using cluster = await testCluster([Svc], { plugins: [plugin, broken] });
    expect(await cluster.client.rpc.Svc.ok()).toBe(1);
    await expect(cluster.client.rpc.Svc.bad()).rejects.toThrow('Error: boom');
    expect(seen).toEqual([
      'start Svc',
      'worker ok',
      'end ok ok',
      'worker bad',
      'error boom',
      'end bad failed',
    ]);
    expect(
      cluster.logs.filter((r) => r.msg === 'hook broken.onWorkerStart failed: hook bug'),
    ).toHaveLength(2);
  });
});
