import { describe, expect, it } from 'vitest';
import { rpc } from '../decorators.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { testCluster } from '../testing/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the worker path', () => {
  it('answers a plain method at once, and waits for the emits a method left unawaited', async () => {
    class Plain extends Service {
      static override readonly serviceName = 'Plain';
      declare [RPC]: 'add' | 'announce';
      @rpc() add({ a, b }: { a: number; b: number }) {
        return a + b;
      }
      @rpc() announce() {
        void this.emit('announced', {});
        return 'said';
      }
    }
    await using cluster = await testCluster([Plain]);
    const container = cluster.container('Plain');
    const headers = { traceId: 't', callIdStack: [], data: {} };
    const reply = container.handleRpc({
      service: 'Plain',
      method: 'add',
      params: { a: 2, b: 3 },
      headers,
    });
    // no promise: a synchronous method's call is answered synchronously
    expect(reply).toEqual({ ok: true, result: 5 });

    // The emit is accepted only when the test says so; the reply must wait for it.
    const events = cluster.instances[0]!.backends!.events;
    const publish = events.publish.bind(events);
    let accept!: () => void;
    const accepted = new Promise<void>((resolve) => (accept = resolve));
    events.publish = async (...args) => {
      await accepted;
      return publish(...args);
    };
    let answered = false;
    const pending = Promise.resolve(
      container.handleRpc({ service: 'Plain', method: 'announce', params: {}, headers }),
    ).then((r) => {
      answered = true;
      return r;
    });
    await sleep(20);
    expect(answered).toBe(false);
    accept();
    expect(await pending).toEqual({ ok: true, result: 'said' });
  });
});
