import { describe, expect, it } from 'vitest';
import { rpc } from '../decorators.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { testCluster } from '../testing/cluster.js';
import { MAX_EVAL_CODE, type EvalAnswer } from './eval.js';

class Counter extends Service {
  static override readonly serviceName = 'Counter';
  declare [RPC]: 'bump';

  @rpc() bump({ by }: { by: number }) {
    return by + 1;
  }
}

const on = { debug: { shell: true, inspector: false } };

describe('svc.eval', () => {
  it('runs code with the services in scope, each call a real worker', async () => {
    await using cluster = await testCluster([Counter], { config: on });
    const seen: string[] = [];
    cluster.container('Counter').observe((o) => seen.push(o.ctx.traceId));
    const answer = (await cluster.client.call('Counter', 'svc.eval', {
      code: 'await services.Counter.bump({ by: 41 })',
    })) as EvalAnswer;
    expect(answer).toEqual({ text: '42' });
    expect(seen).toHaveLength(1);
  });

  it('runs statements, formats for the REPL when asked, and answers the code’s error', async () => {
    await using cluster = await testCluster([Counter], { config: on });
    const call = (params: Record<string, unknown>) =>
      cluster.client.call('Counter', 'svc.eval', params) as Promise<EvalAnswer>;
    expect(await call({ code: 'const a = [1, 2]; return a.length' })).toEqual({ text: '2' });
    expect(await call({ code: 'let x = 1' })).toEqual({});
    expect(await call({ code: "'s'", format: 'inspect' })).toEqual({ text: "'s'" });
    const failed = await call({ code: 'throw new RangeError("no")' });
    expect(failed.error).toMatchObject({ name: 'RangeError', message: 'no' });
    expect(failed.error!.text).toMatch(/^RangeError: no\n {4}at svc-shell:1:/);
  });

  it('cuts a long value and refuses too much code or a bad timeout', async () => {
    await using cluster = await testCluster([Counter], { config: on });
    const call = (params: Record<string, unknown>) =>
      cluster.client.call('Counter', 'svc.eval', params) as Promise<EvalAnswer>;
    const long = await call({ code: '"x".repeat(300_000)' });
    expect(long.text).toMatch(/\n… \(\d+ more characters not shown\)$/);
    expect(long.text!.length).toBeLessThan(270_000);
    await expect(call({ code: `1 ${' '.repeat(MAX_EVAL_CODE)}` })).rejects.toThrow(
      /at most 65536 characters of code/,
    );
    await expect(call({ code: '1', timeout: -1 })).rejects.toThrow(/positive number/);
    await expect(call({})).rejects.toThrow('svc.eval needs { code: "..." }');
  });

  it('is refused, naming the config key, when the config leaves it off', async () => {
    await using cluster = await testCluster([Counter]);
    await expect(cluster.client.call('Counter', 'svc.eval', { code: '1' })).rejects.toThrow(
      /svc\.eval is off in instance [0-9a-f]+ \(Counter\): set "debug: \{ shell: true \}"/,
    );
    await expect(cluster.client.call('Counter', 'svc.debug', {})).rejects.toThrow(
      /set "debug: \{ inspector: true \}"/,
    );
  });
});
