import { describe, expect, it } from 'vitest';
import { event } from '../decorators.js';
import { Service } from '../service.js';
import { entrypointWaiter, testCluster } from '../testing/index.js';

describe('event handlers', () => {
  it('retries a handler that throws, then succeeds', async () => {
    let tries = 0;
    class Flaky extends Service {
      static override serviceName = 'Flaky';
      @event('job', { retry: { attempts: 3, delay: 20 } }) handle(body: { n: number }) {
        tries++;
        if (tries < 3) throw new Error(`fail ${tries}`);
        return body.n;
      }
    }
    await using cluster = await testCluster([Flaky]);
    const done = entrypointWaiter(cluster.container('Flaky'), 'handle', {
      filter: (o) => !o.failed,
    });
    await cluster.client.emit('job', { n: 7 });
    const outcome = await done;
    expect(outcome.result).toBe(7);
    expect(tries).toBe(3);
    expect(cluster.logs.filter((r) => r.msg.startsWith('retrying event job'))).toHaveLength(2);
  });

  it('gives up after the last try and logs it', async () => {
    let tries = 0;
    class Broken extends Service {
      static override serviceName = 'Broken';
      @event('job', { retry: { attempts: 2, delay: 10 } }) handle() {
        tries++;
        throw new Error('always');
      }
    }
    await using cluster = await testCluster([Broken]);
    await cluster.client.emit('job', {});
    await expect
      .poll(() => cluster.logs.some((r) => r.msg.startsWith('giving up on event job')))
      .toBe(true);
    expect(tries).toBe(2);
  });

  it('handles singlecast events on one instance and broadcast events on all', async () => {
    const seen: string[] = [];
    class Listen extends Service {
      static override serviceName = 'Listen';
      @event('greeted') onGreeted() {
        seen.push(`single:${this.context!.callId}`);
      }
      @event('flush', { broadcast: true }) flush() {
        seen.push('flush');
      }
    }
    await using cluster = await testCluster([Listen], { replicas: { Listen: 2 } });
    await cluster.client.emit('greeted', { name: 'x' });
    await cluster.client.emit('flush', {});
    await expect.poll(() => seen.length).toBe(3);
    expect(seen.filter((s) => s === 'flush')).toHaveLength(2);
  });
});
