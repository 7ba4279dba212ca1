import { describe, expect, it } from 'vitest';
import { rpc } from '../decorators.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { WorkerPool } from './pool.js';
import { testCluster } from '../testing/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('maxWorkers', () => {
  it('queues workers beyond the limit and runs them as slots free', async () => {
    let running = 0;
    let peak = 0;
    class Busy extends Service {
      static override readonly serviceName = 'Busy';
      declare [RPC]: 'work';
      static override maxWorkers = 2;
      @rpc() async work() {
        running++;
        peak = Math.max(peak, running);
        await sleep(50);
        running--;
        return 'done';
      }
    }
    await using cluster = await testCluster([Busy]);
    const results = await Promise.all(
      Array.from({ length: 6 }, () => cluster.client.rpc.Busy.work()),
    );
    expect(results).toEqual(Array(6).fill('done'));
    expect(peak).toBe(2);
  });

  it("gives a failed worker's slot back, whether it threw at once or later", async () => {
    class Single extends Service {
      static override readonly serviceName = 'Single';
      declare [RPC]: 'now' | 'later' | 'fine';
      static override maxWorkers = 1;
      @rpc() now(): string {
        throw new Error('at once');
      }
      @rpc() async later(): Promise<string> {
        await sleep(5);
        throw new Error('later');
      }
      @rpc() fine(): string {
        return 'fine';
      }
    }
    await using cluster = await testCluster([Single]);
    const single = cluster.client.rpc.Single;
    const failures = await Promise.allSettled([single.now(), single.later(), single.now()]);
    expect(failures.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await Promise.all([single.fine(), single.fine()])).toEqual(['fine', 'fine']);
  });
});

describe('WorkerPool', () => {
  it('hands free slots out at once and queued ones in order as workers end', async () => {
    const pool = new WorkerPool(1);
    expect(pool.tryTake()).toBe(true);
    pool.started();
    expect(pool.tryTake()).toBe(false);
    const order: string[] = [];
    const first = pool.take().then((ok) => order.push(`first:${ok}`));
    const second = pool.take().then((ok) => order.push(`second:${ok}`));
    expect(pool.queued).toBe(2);
    pool.ended();
    await first;
    expect(order).toEqual(['first:true']);
    pool.started();
    pool.ended();
    await second;
    expect(order).toEqual(['first:true', 'second:true']);
    expect(pool.active).toBe(1);
  });

  it('turns away the workers waiting for a slot once closed', async () => {
    const pool = new WorkerPool(1);
    pool.tryTake();
    pool.started();
    const waiting = pool.take();
    pool.close();
    expect(await waiting).toBe(false);
    expect(pool.queued).toBe(0);
  });

  it('drains: resolves once the last worker ends, or says how many still run', async () => {
    const pool = new WorkerPool(2);
    expect(await pool.drain(10)).toBe(0);
    pool.tryTake();
    pool.started();
    pool.tryTake();
    pool.started();
    expect(await pool.drain(10)).toBe(2);
    const drained = pool.drain(60_000);
    pool.ended();
    pool.ended();
    expect(await drained).toBe(0);
  });
});
