import { describe, expect, it } from 'vitest';
import { currentContext } from './context.js';
import { rpc } from './decorators.js';
import { Hooks, type Plugin } from './hooks.js';
import { Service } from './service.js';
import { RPC } from './typed.js';
import { testCluster } from './testing/index.js';

class Calc extends Service {
  static override readonly serviceName = 'Calc';
  declare [RPC]: 'double' | 'later' | 'broken';
  @rpc() double({ n }: { n: number }) {
    return n * 2;
  }
  @rpc() async later({ n }: { n: number }) {
    await new Promise((r) => setTimeout(r, 5));
    return currentContext()?.method === 'later' ? n : -1;
  }
  @rpc() broken() {
    throw new Error('boom');
  }
}

describe('plugin hooks around workers', () => {
  it('runs every hook a plugin has, around sync, async and throwing methods', async () => {
    const seen: string[] = [];
    const plugin: Plugin = {
      name: 'rec',
      onWorkerStart: (w) => void seen.push(`start ${w.method}`),
      onWorkerEnd: async (w, r) => {
        await Promise.resolve();
        seen.push(`end ${w.method} ${r.error ? 'failed' : 'ok'}`);
      },
      onError: (err) => void seen.push(`error ${(err as Error).message}`),
    };
    await using cluster = await testCluster([Calc], { plugins: [plugin] });
    const calc = cluster.client.rpc.Calc;
    expect(await calc.double({ n: 2 })).toBe(4);
    expect(await calc.later({ n: 3 })).toBe(3);
    await expect(calc.broken()).rejects.toThrow('boom');
    expect(seen).toEqual([
      'start double',
      'end double ok',
      'start later',
      'end later ok',
      'start broken',
      'error boom',
      'end broken failed',
    ]);
  });

  it('runs only the hooks a plugin has, and workers run the same without any', async () => {
    const ends: string[] = [];
    await using withEnd = await testCluster([Calc], {
      plugins: [{ onWorkerEnd: (w) => void ends.push(w.method) }],
    });
    expect(await withEnd.client.rpc.Calc.double({ n: 5 })).toBe(10);
    expect(ends).toEqual(['double']);

    await using bare = await testCluster([Calc]);
    expect(await bare.client.rpc.Calc.later({ n: 7 })).toBe(7);
    await expect(bare.client.rpc.Calc.broken()).rejects.toThrow('boom');
  });

  it('tells which hooks some plugin implements', () => {
    const hooks = new Hooks();
    expect(hooks.has('onWorkerStart')).toBe(false);
    hooks.add({ name: 'a', onWorkerEnd: () => {} });
    expect(hooks.has('onWorkerEnd')).toBe(true);
    expect(hooks.has('onWorkerStart')).toBe(false);
  });
});
