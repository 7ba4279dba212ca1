import { describe, expect, it } from 'vitest';
import type { WorkerContext } from '../context.js';
import { event, rpc } from '../decorators.js';
import { DependencyProvider, inject } from '../dependency.js';
import { ConfigError } from '../errors.js';
import { Service } from '../service.js';
import { RPC } from '../typed.js';
import { testCluster } from '../testing/index.js';
import { ServiceStartError } from './container.js';

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
      static override readonly serviceName = 'Slow';
      declare [RPC]: 'work';
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
    const call = cluster.client.rpc.Slow.work();
    await sleep(50);
    await cluster.instances[0]!.stop({ graceMs: 0 });
    expect(await call).toBe('dep');
    expect(order).toEqual(['dep.start', 'onStart', 'work.begin', 'work.end', 'onStop', 'dep.stop']);
    await cluster.stop();
  });

  it('refuses new work once stopping', async () => {
    class Svc extends Service {
      static override readonly serviceName = 'Svc';
      declare [RPC]: 'ping';
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

describe('context propagation', () => {
  it('forwards trace id, call-id stack and context data through two RPC hops and an event', async () => {
    const seen: Record<string, WorkerContext> = {};
    class Web extends Service<{ Greeting: Greeting }> {
      static override readonly serviceName = 'Web';
      declare [RPC]: 'front';
      @rpc() async front() {
        seen['front'] = this.context!;
        return this.rpc.Greeting.greet({ name: 'Flynne' });
      }
    }
    class Greeting extends Service {
      static override readonly serviceName = 'Greeting';
      declare [RPC]: 'greet';
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
    expect(await cluster.client.rpc.Web.front()).toBe('Hi, Flynne!');
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

describe('deferred calls', () => {
  it('starts a call at once and gives its result later, and never throws when ignored', async () => {
    let started = 0;
    class Slow extends Service {
      static override readonly serviceName = 'Slow';
      declare [RPC]: 'work';
      @rpc() async work({ fail }: { fail?: boolean }) {
        started++;
        await sleep(30);
        if (fail) throw new Error('nope');
        return 'late';
      }
    }
    await using cluster = await testCluster([Slow]);
    const handle = cluster.client.rpc.Slow.work.defer({});
    cluster.client.rpc.Slow.work.defer({ fail: true });
    await expect.poll(() => started).toBe(2);
    expect(await handle.result()).toBe('late');
    await sleep(60);
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
      static override readonly serviceName = 'Db';
      declare [RPC]: 'which';
      session = inject(new Session());
      @rpc() which() {
        return this.session.id;
      }
    }
    await using cluster = await testCluster([Db]);
    expect(await cluster.client.rpc.Db.which()).toBe(1);
    expect(await cluster.client.rpc.Db.which()).toBe(2);
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

describe('starting a container', () => {
  it("names the service and the step when onStart or a dependency's start throws", async () => {
    class Refuses extends Service {
      static override serviceName = 'Refuses';
      override onStart() {
        throw new Error('no database');
      }
    }
    const err = await testCluster([Refuses]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ServiceStartError);
    expect((err as Error).message).toBe('Refuses: onStart failed: no database');
    expect(((err as Error).cause as Error).message).toBe('no database');

    class Unreachable extends DependencyProvider<string> {
      override start(): void {
        throw new TypeError('connect ECONNREFUSED');
      }
      getDependency() {
        return 'x';
      }
    }
    class Needy extends Service {
      static override serviceName = 'Needy';
      db = inject(new Unreachable());
    }
    await expect(testCluster([Needy])).rejects.toThrow(
      'Needy: starting dependency db failed: connect ECONNREFUSED',
    );
  });

  it("lets svc's own errors from onStart through as they are", async () => {
    class Misconfigured extends Service {
      static override serviceName = 'Misconfigured';
      override onStart() {
        throw new ConfigError('conf/x.yml: interfaces.Misconfigured.url is missing');
      }
    }
    await expect(testCluster([Misconfigured])).rejects.toBeInstanceOf(ConfigError);
  });
});
