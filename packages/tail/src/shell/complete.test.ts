import { describe, expect, it } from 'vitest';
import { completeRpc, type CompletionSource } from './complete.js';

const source: CompletionSource = {
  services: async () => ['Greeting', 'Listen', 'Web', 'bad-name'],
  methods: async (s) => (s === 'Greeting' ? ['greet', 'greetAll', 'fail'] : []),
};

describe('completeRpc', () => {
  it('completes service names after rpc.', async () => {
    expect(await completeRpc('await rpc.Gr', source)).toEqual([['rpc.Greeting'], 'rpc.Gr']);
    expect(await completeRpc('rpc.', source)).toEqual([
      ['rpc.Greeting', 'rpc.Listen', 'rpc.Web'],
      'rpc.',
    ]);
  });

  it('completes method names after rpc.Service.', async () => {
    expect(await completeRpc('x = await rpc.Greeting.gr', source)).toEqual([
      ['rpc.Greeting.greet', 'rpc.Greeting.greetAll'],
      'rpc.Greeting.gr',
    ]);
    expect(await completeRpc('rpc.Listen.', source)).toEqual([[], 'rpc.Listen.']);
  });

  it('leaves other lines to the REPL', async () => {
    expect(await completeRpc('proc', source)).toBeUndefined();
    expect(await completeRpc('myrpc.Gr', source)).toBeUndefined();
    expect(await completeRpc('a.rpc.Gr', source)).toBeUndefined();
  });
});
