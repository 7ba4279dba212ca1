// Deadlines and cancellation through the runtime, on the in-memory hub
// (which carries them as the direct transports do): the worker's signal,
// nested calls inheriting what remains, requests not started once expired.
import { describe, expect, it } from 'vitest';
import { CancelledError, DeadlineExceededError, RpcTimeoutError } from './errors.js';
import { rpc } from './decorators.js';
import { Service } from './service.js';
import { RPC } from './typed.js';
import { testCluster } from './testing/index.js';
import { eventually } from './testing/conformance/util.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the Back service's workers saw, for the tests to read. */
const seen = {
  aborted: [] as unknown[],
  timeouts: [] as number[],
  marks: 0,
  finished: 0,
};

class Back extends Service {
  static override readonly serviceName = 'Back';
  declare [RPC]: 'wait' | 'deadline' | 'mark' | 'stubborn';

  /** Waits until its signal aborts, and notes why. */
  @rpc() async wait() {
    const signal = this.context!.signal;
    if (!signal.aborted) {
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }));
    }
    seen.aborted.push(signal.reason);
    throw signal.reason;
  }

  /** Tells how long it has, from its start. */
  @rpc() deadline() {
    const ctx = this.context!;
    seen.timeouts.push(ctx.deadline! - ctx.startedAt);
    return ctx.deadline! - ctx.startedAt;
  }

  @rpc() mark() {
    seen.marks++;
    return seen.marks;
  }

  /** Ignores its signal: runs to its end whatever happens. */
  @rpc() async stubborn({ ms }: { ms: number }) {
    await sleep(ms);
    seen.finished++;
    return 'done';
  }
}

class Front extends Service<{ Back: Back }> {
  static override readonly serviceName = 'Front';
  declare [RPC]: 'relay' | 'late' | 'fanout';

  /** Calls Back.deadline without a timeout of its own. */
  @rpc() async relay() {
    return this.rpc.Back.deadline();
  }

  /** Sleeps past its deadline, then calls Back.mark. */
  @rpc() async late({ ms }: { ms: number }) {
    await sleep(ms);
    try {
      return await this.rpc.Back.mark();
    } catch (err) {
      seen.aborted.push(err);
      throw err;
    }
  }

  /** Waits on Back.wait: cancelling this call cancels that one. */
  @rpc() async fanout() {
    return this.rpc.Back.wait(undefined, { timeout: 30_000 });
  }
}

function reset(): void {
  seen.aborted = [];
  seen.timeouts = [];
  seen.marks = 0;
  seen.finished = 0;
}

describe('deadlines', () => {
  it("aborts the worker's signal at the caller's deadline with a DeadlineExceededError", async () => {
    reset();
    await using cluster = await testCluster([Back]);
    const err = await cluster.client.rpc.Back.wait(undefined, { timeout: 300 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(RpcTimeoutError);
    expect(await eventually(() => seen.aborted.length === 1)).toBe(true);
    expect(seen.aborted[0]).toBeInstanceOf(DeadlineExceededError);
    expect(String(seen.aborted[0])).toContain("Back.wait's deadline passed");
  });

  it('gives a nested call no more than what remains of its worker’s deadline', async () => {
    reset();
    await using cluster = await testCluster([Back, Front], { config: { rpcTimeout: 60_000 } });
    const left = await cluster.client.rpc.Front.relay(undefined, { timeout: 1000 });
    // Its own default would be 60 s: it inherited at most the second its caller gave Front.
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(1000);
    // A call outside any worker takes the client's own timeout.
    const direct = await cluster.client.rpc.Back.deadline(undefined, { timeout: 50_000 });
    expect(direct).toBeGreaterThan(1000);
  });

  it('fails a nested call made after the deadline at once, without sending it', async () => {
    reset();
    await using cluster = await testCluster([Back, Front]);
    await expect(
      cluster.client.rpc.Front.late({ ms: 400 }, { timeout: 200 }),
    ).rejects.toBeInstanceOf(RpcTimeoutError);
    expect(await eventually(() => seen.aborted.length === 1)).toBe(true);
    expect(seen.aborted[0]).toBeInstanceOf(DeadlineExceededError);
    expect(String(seen.aborted[0])).toContain('before it called Back.mark');
    expect(seen.marks).toBe(0);
  });

  it('does not start a request whose deadline passed while it waited for a worker', async () => {
    reset();
    await using cluster = await testCluster([Back], { config: { maxWorkers: 1 } });
    const busy = cluster.client.rpc.Back.stubborn({ ms: 600 });
    expect(await eventually(() => cluster.container('Back').activeWorkers === 1)).toBe(true);
    // Waits in line behind `stubborn` longer than it may.
    await expect(cluster.client.rpc.Back.mark(undefined, { timeout: 200 })).rejects.toBeInstanceOf(
      RpcTimeoutError,
    );
    expect(await busy).toBe('done');
    await sleep(50);
    expect(seen.marks).toBe(0);
    expect(
      cluster.logs.some(
        (r) =>
          r.msg === 'rpc Back.mark not started: its deadline passed while it waited for a worker',
      ),
    ).toBe(true);
    // The next call, in time, runs.
    expect(await cluster.client.rpc.Back.mark()).toBe(1);
  });

  it('answers a request that arrives with no time left by DeadlineExceededError, and never runs it', async () => {
    reset();
    await using cluster = await testCluster([Back]);
    const reply = cluster.container('Back').handleRpc({
      service: 'Back',
      method: 'mark',
      params: {},
      headers: { traceId: 't', callIdStack: [], data: {} },
      timeout: 0,
    });
    expect(reply).toMatchObject({ ok: false, error: { code: DeadlineExceededError.code } });
    expect(seen.marks).toBe(0);
  });
});

describe('cancellation', () => {
  it("aborts the remote worker's signal when the caller's signal aborts, and rejects with its reason", async () => {
    reset();
    await using cluster = await testCluster([Back]);
    const controller = new AbortController();
    const call = cluster.client.rpc.Back.wait(undefined, {
      timeout: 30_000,
      signal: controller.signal,
    });
    await sleep(50);
    controller.abort(new Error('the user left'));
    await expect(call).rejects.toThrow('the user left');
    expect(await eventually(() => seen.aborted.length === 1)).toBe(true);
    expect(seen.aborted[0]).toBeInstanceOf(CancelledError);
  });

  it('passes a cancel on to the calls the cancelled worker made', async () => {
    reset();
    await using cluster = await testCluster([Back, Front]);
    const controller = new AbortController();
    const call = cluster.client.rpc.Front.fanout(undefined, {
      timeout: 30_000,
      signal: controller.signal,
    });
    await sleep(100);
    controller.abort();
    await expect(call).rejects.toMatchObject({ name: 'AbortError' });
    // Front's worker was cancelled, and with it its call to Back.wait.
    expect(await eventually(() => seen.aborted.length === 1)).toBe(true);
    expect(seen.aborted[0]).toBeInstanceOf(CancelledError);
  });

  it('rejects at once, sending nothing, a call whose signal aborted already', async () => {
    reset();
    await using cluster = await testCluster([Back]);
    const reason = new Error('too late');
    await expect(
      cluster.client.rpc.Back.mark(undefined, { signal: AbortSignal.abort(reason) }),
    ).rejects.toBe(reason);
    expect(seen.marks).toBe(0);
  });

  it('gives a worker without a caller’s deadline a signal that never aborts on its own', async () => {
    class Plain extends Service {
      static override readonly serviceName = 'Plain';
      declare [RPC]: 'check';
      @rpc() check() {
        const ctx = this.context!;
        return { deadline: ctx.deadline ?? null, aborted: ctx.signal.aborted };
      }
    }
    await using cluster = await testCluster([Plain]);
    const worker = cluster.container('Plain');
    const headers = { traceId: 't', callIdStack: [], data: {} };
    // A request without a deadline (a Nameko caller sends none).
    expect(worker.handleRpc({ service: 'Plain', method: 'check', params: {}, headers })).toEqual({
      ok: true,
      result: { deadline: null, aborted: false },
    });
  });
});
