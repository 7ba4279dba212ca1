import { describe, expect, it } from 'vitest';
import { WorkerContext } from '../context.js';
import { event, rpc, timer } from '../decorators.js';
import { DependencyProvider, inject } from '../dependency.js';
import {
  RemoteError,
  SvcError,
  ValidationError,
  MethodNotFoundError,
  UnknownServiceError,
} from '../errors.js';
import { t } from '../schema.js';
import { Service } from '../service.js';
import { entrypointWaiter, testCluster } from '../testing/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('stopping a container', () => {
  it('stops entrypoints, drains running workers, then runs onStop, then stops dependencies', async () => {
    const order: string[] = [];
    class Recorder extends DependencyProvider<string> {
      override start() {
        order.push('dep.start');
      }
      override stop() {
        order.push('dep.stop');
      }
      getDependency() {
        return 'dep';
      }
    }
    class Slow extends Service {
      static override serviceName = 'Slow';
      dep = inject(new Recorder());
      override onStart() {
        order.push('onStart');
      }
      override onStop() {
        order.push('onStop');
      }
      @rpc() async work() {
        order.push('work.begin');
        await sleep(200);
        order.push('work.end');
        return this.dep;
      }
    }
    const cluster = await testCluster([Slow]);
    const call = cluster.client.rpc.Slow!.work!();
    await sleep(50);
    await cluster.instances[0]!.stop({ graceMs: 0 });
    expect(await call).toBe('dep');
    expect(order).toEqual(['dep.start', 'onStart', 'work.begin', 'work.end', 'onStop', 'dep.stop']);
    await cluster.stop();
  });

  it('refuses new work once stopping', async () => {
    class Svc extends Service {
      static override serviceName = 'Svc';
      @rpc() ping() {
        return 'pong';
      }
    }
    await using cluster = await testCluster([Svc]);
    const container = cluster.container('Svc');
    await container.stop();
    const reply = await container.handleRpc({
      service: 'Svc',
      method: 'ping',
      params: {},
      headers: { traceId: 't', callIdStack: [], data: {} },
    });
    expect(reply).toMatchObject({ ok: false, error: { code: 'SVC_ERR_CONTAINER_STOPPED' } });
  });
});

describe('maxWorkers', () => {
  it('queues workers beyond the limit and runs them as slots free', async () => {
    let running = 0;
    let peak = 0;
    class Busy extends Service {
      static override serviceName = 'Busy';
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
      Array.from({ length: 6 }, () => cluster.client.rpc.Busy!.work!()),
    );
    expect(results).toEqual(Array(6).fill('done'));
    expect(peak).toBe(2);
  });

  it("gives a failed worker's slot back, whether it threw at once or later", async () => {
    class Single extends Service {
      static override serviceName = 'Single';
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
    const single = cluster.client.rpc.Single!;
    const failures = await Promise.allSettled([single.now!(), single.later!(), single.now!()]);
    expect(failures.map((f) => f.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(await Promise.all([single.fine!(), single.fine!()])).toEqual(['fine', 'fine']);
  });
});

describe('the worker path', () => {
  it('answers a plain method at once, and waits for the emits a method left unawaited', async () => {
    class Plain extends Service {
      static override serviceName = 'Plain';
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

describe('context propagation', () => {
  it('forwards trace id, call-id stack and context data through two RPC hops and an event', async () => {
    const seen: Record<string, WorkerContext> = {};
    class Web extends Service {
      static override serviceName = 'Web';
      @rpc() async front() {
        seen['front'] = this.context!;
        return this.rpc.Greeting!.greet!({ name: 'Flynne' });
      }
    }
    class Greeting extends Service {
      static override serviceName = 'Greeting';
      @rpc() async greet({ name }: { name: string }) {
        seen['greet'] = this.context!;
        await this.emit('greeted', { name });
        return `Hi, ${name}!`;
      }
    }
    class Listen extends Service {
      static override serviceName = 'Listen';
      @event('greeted') onGreeted() {
        seen['listen'] = this.context!;
      }
    }
    await using cluster = await testCluster([Web, Greeting, Listen]);
    expect(await cluster.client.rpc.Web!.front!()).toBe('Hi, Flynne!');
    await expect.poll(() => seen['listen']).toBeDefined();
    const { front, greet, listen } = seen as Record<'front' | 'greet' | 'listen', WorkerContext>;
    expect(greet.traceId).toBe(front.traceId);
    expect(listen.traceId).toBe(front.traceId);
    expect(front.callIdStack).toHaveLength(2);
    expect(front.callIdStack[0]).toMatch(/^test-client\.call\./);
    expect(greet.callIdStack.slice(0, 2)).toEqual(front.callIdStack);
    expect(greet.callIdStack[2]).toMatch(/^Greeting\.greet\./);
    expect(listen.callIdStack.slice(0, 3)).toEqual(greet.callIdStack);
    expect(listen.callIdStack[3]).toMatch(/^Listen\.onGreeted\./);
    const traced = cluster.logs.filter((r) => r.traceId === front.traceId).map((r) => r.service);
    expect(new Set(traced)).toEqual(new Set(['Web', 'Greeting', 'Listen']));
  });
});

describe('errors across RPC', () => {
  class NotFound extends SvcError {
    static override code = 'USERS_NOT_FOUND';
  }
  class Users extends Service {
    static override serviceName = 'Users';
    @rpc({ params: { id: t.integer(), verbose: t.optional(t.boolean()) }, expected: [NotFound] })
    get({ id }: { id: number }) {
      if (id === 0) throw new NotFound(`no user ${id}`, { data: { id } });
      if (id === 1) throw new TypeError('bad things');
      return { id };
    }
  }

  it('gives the caller a RemoteError with the remote type, message, code and data', async () => {
    await using cluster = await testCluster([Users]);
    const err = await cluster.client.rpc.Users!.get!({ id: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RemoteError);
    expect(err).toMatchObject({
      remoteType: 'NotFound',
      remoteMessage: 'no user 0',
      remoteCode: 'USERS_NOT_FOUND',
      data: { id: 0 },
    });
    const bug = await cluster.client.rpc.Users!.get!({ id: 1 }).catch((e: unknown) => e);
    expect(bug).toMatchObject({ remoteType: 'TypeError', message: 'TypeError: bad things' });
    expect(
      cluster.logs.find((r) => r.level === 'warn' && r.msg.includes('no user 0')),
    ).toBeDefined();
    expect(
      cluster.logs.find((r) => r.level === 'error' && r.msg.includes('bad things')),
    ).toBeDefined();
  });

  it('rejects invalid parameters with a ValidationError naming each problem', async () => {
    await using cluster = await testCluster([Users]);
    const err = await cluster.client.rpc.Users!.get!({ id: 'x', extra: 1 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toBe(
      'invalid parameters for Users.get: id must be an integer, got the string "x"; extra is not a known parameter',
    );
  });

  it('answers an unknown method with MethodNotFoundError and an unknown service with UnknownServiceError', async () => {
    await using cluster = await testCluster([Users]);
    await expect(cluster.client.rpc.Users!.nope!()).rejects.toBeInstanceOf(MethodNotFoundError);
    await expect(cluster.client.rpc.Nobody!.x!()).rejects.toBeInstanceOf(UnknownServiceError);
  });

  it('maps positional arguments by declared order, as Nameko peers send them', async () => {
    await using cluster = await testCluster([Users]);
    const c = cluster.container('Users');
    const headers = { traceId: 't', callIdStack: [], data: {} };
    expect(
      await c.handleRpc({ service: 'Users', method: 'get', params: {}, args: [5], headers }),
    ).toEqual({ ok: true, result: { id: 5 } });
    expect(
      await c.handleRpc({
        service: 'Users',
        method: 'get',
        params: {},
        args: [5, true, 3],
        headers,
      }),
    ).toMatchObject({
      ok: false,
      error: { code: 'SVC_ERR_INCORRECT_SIGNATURE' },
    });
  });
});

describe('deferred calls', () => {
  it('starts a call at once and gives its result later, and never throws when ignored', async () => {
    let started = 0;
    class Slow extends Service {
      static override serviceName = 'Slow';
      @rpc() async work({ fail }: { fail?: boolean }) {
        started++;
        await sleep(30);
        if (fail) throw new Error('nope');
        return 'late';
      }
    }
    await using cluster = await testCluster([Slow]);
    const handle = cluster.client.rpc.Slow!.work!.defer({});
    cluster.client.rpc.Slow!.work!.defer({ fail: true });
    await expect.poll(() => started).toBe(2);
    expect(await handle.result()).toBe('late');
    await sleep(60);
  });
});

describe('timers', () => {
  it('runs eagerly, repeats, and never overlaps itself', async () => {
    let running = 0;
    let overlap = false;
    let runs = 0;
    class Tick extends Service {
      static override serviceName = 'Tick';
      @timer(20, { eager: true }) async tick() {
        if (running > 0) overlap = true;
        running++;
        runs++;
        await sleep(45);
        running--;
      }
    }
    await using _cluster = await testCluster([Tick]);
    await expect.poll(() => runs, { timeout: 2000 }).toBeGreaterThanOrEqual(3);
    expect(overlap).toBe(false);
  });
});

describe('dependency providers', () => {
  it('give each worker a fresh value and see it set up, finish and go', async () => {
    const events: string[] = [];
    let n = 0;
    class Session extends DependencyProvider<{ id: number }> {
      override workerSetup(w: WorkerContext) {
        events.push(`setup:${w.method}`);
      }
      getDependency() {
        return { id: ++n };
      }
      override workerResult(_w: WorkerContext, result: unknown, error: unknown) {
        events.push(`result:${String(result)}:${error ? 'error' : 'ok'}`);
      }
      override workerTeardown() {
        events.push('teardown');
      }
    }
    class Db extends Service {
      static override serviceName = 'Db';
      session = inject(new Session());
      @rpc() which() {
        return this.session.id;
      }
    }
    await using cluster = await testCluster([Db]);
    expect(await cluster.client.rpc.Db!.which!()).toBe(1);
    expect(await cluster.client.rpc.Db!.which!()).toBe(2);
    expect(events).toEqual([
      'setup:which',
      'result:1:ok',
      'teardown',
      'setup:which',
      'result:2:ok',
      'teardown',
    ]);
  });
});
