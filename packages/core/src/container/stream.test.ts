import { describe, expect, it } from 'vitest';
import { rpc } from '../decorators.js';
import { ValidationError } from '../errors.js';
import { STREAM_WINDOW } from '../rpc/stream.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { testCluster } from '../testing/index.js';
import { eventually } from '../testing/conformance/util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('streaming workers', () => {
  /** What the Numbers service's generators did, for the tests to read. */
  const made = { produced: 0, finallyRan: 0 };

  class Numbers extends Service {
    static override readonly serviceName = 'Numbers';
    declare [RPC]: 'count' | 'endless' | 'failing' | 'plain' | 'wrapped';

    /** Yields 1..n, then says how many. */
    @rpc() async *count({ n }: { n: number }) {
      for (let i = 1; i <= n; i++) yield i;
      return `${n} counted`;
    }

    /** Yields for ever, counting what it made; its finally says when it was stopped. */
    @rpc() async *endless() {
      try {
        for (let i = 0; ; i++) {
          made.produced++;
          yield { i };
        }
      } finally {
        made.finallyRan++;
      }
    }

    /** Yields twice, then fails with an error of the catalogue. */
    @rpc() async *failing() {
      yield 'a';
      yield 'b';
      throw new ValidationError('the third is invalid', { data: { at: 3 } });
    }

    @rpc() plain() {
      return 'not a stream';
    }

    /** Returns a generator instead of being one: what a plain method cannot send. */
    @rpc() wrapped() {
      return this.count({ n: 2 });
    }
  }

  it('streams what an async * method yields and logs its worker once, with the item count', async () => {
    await using cluster = await testCluster([Numbers]);
    const got: number[] = [];
    for await (const n of cluster.client.rpc.Numbers.count.stream({ n: 5 })) got.push(n);
    expect(got).toEqual([1, 2, 3, 4, 5]);
    const records = cluster.logs.filter((r) => r.msg.startsWith('rpc Numbers.count'));
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ msg: 'rpc Numbers.count ok (5 items)', items: 5 });
  });

  it('keeps a slow reader’s producer within a window of items', async () => {
    made.produced = 0;
    made.finallyRan = 0;
    await using cluster = await testCluster([Numbers]);
    const items = cluster.client.rpc.Numbers.endless.stream();
    let read = 0;
    for await (const item of items) {
      expect(item).toEqual({ i: read });
      read++;
      if (read % 10 === 0) {
        // A slow reader: the producer must wait for it, not fill memory.
        await sleep(20);
        expect(made.produced - read).toBeLessThanOrEqual(STREAM_WINDOW + 1);
      }
      if (read === 100) break;
    }
    expect(await eventually(() => made.finallyRan === 1)).toBe(true);
    expect(made.produced - read).toBeLessThanOrEqual(STREAM_WINDOW + 1);
  });

  it("runs the generator's finally when the reader breaks off, and logs where it stopped", async () => {
    made.produced = 0;
    made.finallyRan = 0;
    await using cluster = await testCluster([Numbers]);
    for await (const item of cluster.client.rpc.Numbers.endless.stream()) {
      if (item.i === 2) break;
    }
    expect(await eventually(() => made.finallyRan === 1)).toBe(true);
    expect(
      await eventually(() =>
        cluster.logs.some((r) => r.msg.startsWith('rpc Numbers.endless stopped after')),
      ),
    ).toBe(true);
    expect(cluster.container('Numbers').activeWorkers).toBe(0);
  });

  it('gives the reader an error thrown mid-stream as its catalogue class, after the items before it', async () => {
    await using cluster = await testCluster([Numbers]);
    const got: string[] = [];
    const err = await (async () => {
      for await (const item of cluster.client.rpc.Numbers.failing.stream()) got.push(item);
    })().catch((e: unknown) => e);
    expect(got).toEqual(['a', 'b']);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err).toMatchObject({ message: 'the third is invalid', data: { at: 3 } });
    expect(
      cluster.logs.some((r) => r.msg === 'rpc Numbers.failing failed: the third is invalid'),
    ).toBe(true);
  });

  it('holds its worker slot for the life of the stream', async () => {
    await using cluster = await testCluster([Numbers], { config: { maxWorkers: 1 } });
    const container = cluster.container('Numbers');
    const items = cluster.client.rpc.Numbers.endless.stream();
    await items.next();
    expect(container.activeWorkers).toBe(1);
    // The one slot is the stream's: a call waits in line until the stream is over.
    let answered = false;
    const plain = cluster.client.rpc.Numbers.plain().then((r) => {
      answered = true;
      return r;
    });
    await sleep(50);
    expect(answered).toBe(false);
    await items.return?.();
    expect(await plain).toBe('not a stream');
    expect(await eventually(() => container.activeWorkers === 0)).toBe(true);
  });

  it('is waited for by a stopping container until its stream is over', async () => {
    made.finallyRan = 0;
    await using cluster = await testCluster([Numbers]);
    const items = cluster.client.rpc.Numbers.endless.stream();
    await items.next();
    let stopped = false;
    const stopping = cluster
      .container('Numbers')
      .stop()
      .then(() => (stopped = true));
    await sleep(100);
    // The stream still runs, and the container waits for it.
    expect(stopped).toBe(false);
    expect((await items.next()).done).toBe(false);
    await items.return?.();
    await stopping;
    expect(made.finallyRan).toBe(1);
  });

  it('refuses a plain call of a streaming method, and a stream of a plain one, before running either', async () => {
    await using cluster = await testCluster([Numbers]);
    await expect(cluster.client.call('Numbers', 'count', { n: 1 })).rejects.toThrow(
      'Numbers.count streams its results: read it with .stream()',
    );
    await expect(cluster.client.stream('Numbers', 'plain').next()).rejects.toThrow(
      'Numbers.plain does not stream its results: call it without .stream()',
    );
    expect(cluster.logs.filter((r) => r.msg.startsWith('rpc Numbers.'))).toEqual([]);
  });

  it('fails a plain method that returns an async iterable, rather than answer {}', async () => {
    await using cluster = await testCluster([Numbers]);
    // Typed, it would not compile: its type says it streams. Untyped callers find out here.
    await expect(cluster.client.call('Numbers', 'wrapped')).rejects.toThrow(
      'wrapped() returned an async iterable',
    );
  });
});
