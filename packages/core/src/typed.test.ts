// Type tests of typed calls. `tsc -p tsconfig.json --noEmit` (the test
// command's typecheck) compiles this file: an `@ts-expect-error` whose line
// compiles again, or an `expectTypeOf` that no longer holds, fails it. The
// calls also run, against a test cluster, so that the types describe what
// really happens.
/* eslint-disable @typescript-eslint/no-unsafe-call, @typescript-eslint/no-unsafe-member-access --
   the lines under @ts-expect-error call what does not exist, on purpose */
import { type as ark } from 'arktype';
import * as v from 'valibot';
import { describe, expect, expectTypeOf, it } from 'vitest';
import * as z from 'zod';
import type { DeferredCall, RpcStream } from './client.js';
import type { ClusterClient, connect } from './cluster-client.js';
import { event, http, rpc, timer } from './decorators.js';
import { ValidationError } from './errors.js';
import type { HttpRequest } from './http/index.js';
import { t } from './schema.js';
import { Service } from './service.js';
import { testCluster, workerFactory } from './testing/index.js';
import { RPC, type ServiceProxy } from './typed.js';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  declare [RPC]: 'greet' | 'count' | 'ping' | 'countdown' | { say_hello: 'hello' };

  @rpc() greet({ name }: { name: string }) {
    return `Hi, ${name}!`;
  }

  @rpc({ params: { n: t.integer(), by: t.optional(t.integer()) } })
  async count({ n, by = 1 }: { n: number; by?: number }): Promise<number> {
    return n + by;
  }

  @rpc() ping() {
    return 'pong' as const;
  }

  @rpc({ name: 'say_hello' }) hello({ name }: { name: string }) {
    return { text: `Hello, ${name}` };
  }

  /** Streams n, n-1, ..., 1. */
  @rpc() async *countdown({ from }: { from: number }) {
    for (let i = from; i > 0; i--) yield { left: i };
  }

  @event('greeted') onGreeted(body: { name: string }) {
    this.log.info(body.name);
  }

  @http('GET', '/greet') page(request: HttpRequest) {
    return request.query['name'] ?? '';
  }

  @timer(60_000) tick() {}

  helper(p: { name: string }) {
    return p.name;
  }
}

class Front extends Service<{ Greeting: Greeting }> {
  static override readonly serviceName = 'Front';
  declare [RPC]: 'front';

  @rpc() async front({ name }: { name: string }) {
    const greeting = await this.rpc.Greeting.greet({ name });
    expectTypeOf(greeting).toEqualTypeOf<string>();
    return greeting;
  }

  wrongCalls() {
    // @ts-expect-error a misspelled service
    void this.rpc.Greting.greet({ name: 'a' });
    // @ts-expect-error a misspelled method
    void this.rpc.Greeting.gret({ name: 'a' });
    // @ts-expect-error a parameter of the wrong type
    void this.rpc.Greeting.greet({ name: 5 });
    // @ts-expect-error a missing parameter
    void this.rpc.Greeting.greet({});
    // @ts-expect-error an unknown parameter
    void this.rpc.Greeting.greet({ name: 'a', extra: 1 });
    // @ts-expect-error parameters left out where the method needs them
    void this.rpc.Greeting.greet();
    // @ts-expect-error an event handler is not an RPC method
    void this.rpc.Greeting.onGreeted({ name: 'a' });
    // @ts-expect-error an HTTP route is not an RPC method
    void this.rpc.Greeting.page;
    // @ts-expect-error a timer is not an RPC method
    void this.rpc.Greeting.tick;
    // @ts-expect-error a helper is not an RPC method
    void this.rpc.Greeting.helper({ name: 'a' });
    // @ts-expect-error lifecycle methods are not RPC methods
    void this.rpc.Greeting.onStart;
    // @ts-expect-error a renamed method is called by its RPC name, not the method's
    void this.rpc.Greeting.hello({ name: 'a' });
    // @ts-expect-error a streaming method is read with .stream(), not called
    void this.rpc.Greeting.countdown({ from: 3 });
    // @ts-expect-error nor deferred
    void this.rpc.Greeting.countdown.defer({ from: 3 });
    // @ts-expect-error a plain method has no .stream()
    void this.rpc.Greeting.greet.stream({ name: 'a' });
    // @ts-expect-error a stream's parameters are checked as a call's
    void this.rpc.Greeting.countdown.stream({ from: 'three' });
  }

  async wrongResults() {
    // @ts-expect-error greet's result is a string
    const n: number = await this.rpc.Greeting.greet({ name: 'a' });
    // @ts-expect-error a deferred call's result is a string too
    const m: number = await this.rpc.Greeting.greet.defer({ name: 'a' }).result();
    return [n, m];
  }
}

describe('typed calls', () => {
  it('types every RPC method of a class by its parameters and result', () => {
    type P = ServiceProxy<Greeting>;
    expectTypeOf<keyof P>().toEqualTypeOf<'greet' | 'count' | 'ping' | 'say_hello' | 'countdown'>();
    expectTypeOf<P['greet']>().parameter(0).toEqualTypeOf<{ name: string }>();
    expectTypeOf<P['greet']>().returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf<P['count']>().returns.toEqualTypeOf<Promise<number>>();
    expectTypeOf<P['ping']>().returns.toEqualTypeOf<Promise<'pong'>>();
    expectTypeOf<P['say_hello']>().returns.toEqualTypeOf<Promise<{ text: string }>>();
    expectTypeOf<P['greet']['defer']>().returns.toEqualTypeOf<DeferredCall<string>>();
    expectTypeOf<P['count']>().toBeCallableWith({ n: 1 });
    expectTypeOf<P['count']>().toBeCallableWith({ n: 1, by: 2 }, { timeout: 100 });
    expectTypeOf<P['ping']>().toBeCallableWith();
    // A streaming method's items are typed by what it yields.
    expectTypeOf<P['countdown']['stream']>().returns.toEqualTypeOf<RpcStream<{ left: number }>>();
    expectTypeOf<P['countdown']['stream']>().parameter(0).toEqualTypeOf<{ from: number }>();
  });

  it('types a hand-written interface (a Nameko service) by its methods', () => {
    interface NamekoGreeting {
      hello(params: { name: string }): string;
      language: string;
    }
    type P = ServiceProxy<NamekoGreeting>;
    expectTypeOf<keyof P>().toEqualTypeOf<'hello'>();
    expectTypeOf<P['hello']>().returns.toEqualTypeOf<Promise<string>>();
  });

  it('calls through typed proxies, in a service, a client and a deferred call', async () => {
    await using cluster = await testCluster([Greeting, Front]);
    expectTypeOf(cluster.client.rpc.Front.front).returns.toEqualTypeOf<Promise<string>>();
    expect(await cluster.client.rpc.Front.front({ name: 'Ann' })).toBe('Hi, Ann!');
    expect(await cluster.client.rpc.Greeting.count({ n: 1, by: 2 })).toBe(3);
    expect(await cluster.client.rpc.Greeting.ping()).toBe('pong');
    expect(await cluster.client.rpc.Greeting.say_hello({ name: 'Bo' })).toEqual({
      text: 'Hello, Bo',
    });
    const later = cluster.client.rpc.Greeting.greet.defer({ name: 'Cy' });
    expect(await later.result()).toBe('Hi, Cy!');
    const left: number[] = [];
    for await (const item of cluster.client.rpc.Greeting.countdown.stream({ from: 3 })) {
      expectTypeOf(item).toEqualTypeOf<{ left: number }>();
      left.push(item.left);
    }
    expect(left).toEqual([3, 2, 1]);
    // Untyped access stays, for names known only at run time.
    expect(await cluster.client.call('Greeting', 'greet', { name: 'Di' })).toBe('Hi, Di!');
    // @ts-expect-error a service the cluster does not run
    expect(cluster.client.rpc.Nobody).toBeDefined();
  });

  it('types test stubs by the services a class calls', async () => {
    const worker = workerFactory(Front, {
      rpc: {
        Greeting: {
          greet: ({ name }) => {
            expectTypeOf(name).toEqualTypeOf<string>();
            return `stub ${name}`;
          },
        },
      },
    });
    expect(await worker.service.front({ name: 'x' })).toBe('stub x');
    // A streaming method's stub gives its items.
    const streaming = workerFactory(Front, {
      rpc: { Greeting: { countdown: ({ from }) => [{ left: from }, { left: from - 1 }] } },
    });
    const left: number[] = [];
    for await (const item of streaming.service.rpc.Greeting.countdown.stream({ from: 2 }))
      left.push(item.left);
    expect(left).toEqual([2, 1]);
    expect(streaming.calls).toEqual([
      { service: 'Greeting', method: 'countdown', params: { from: 2 } },
    ]);
    // @ts-expect-error a streaming stub yields the method's item type
    workerFactory(Front, { rpc: { Greeting: { countdown: () => ['x'] } } });
    // @ts-expect-error a stub must return the method's result type
    workerFactory(Front, { rpc: { Greeting: { greet: () => 5 } } });
    // @ts-expect-error a stub of a method Greeting does not have
    workerFactory(Front, { rpc: { Greeting: { nope: () => 'x' } } });
  });
});

describe('standalone clients', () => {
  it('types connect() proxies as a service sees them, per-call context included', () => {
    type Client = Awaited<ReturnType<typeof connect<{ Greeting: Greeting }>>>;
    expectTypeOf<Client>().toEqualTypeOf<ClusterClient<{ Greeting: Greeting }>>();
    type Greet = Client['rpc']['Greeting']['greet'];
    expectTypeOf<Greet>().parameter(0).toEqualTypeOf<{ name: string }>();
    expectTypeOf<Greet>().returns.toEqualTypeOf<Promise<string>>();
    expectTypeOf<Greet['defer']>().returns.toEqualTypeOf<DeferredCall<string>>();
    expectTypeOf<Greet>().toBeCallableWith({ name: 'a' }, { context: { language: 'fr' } });
    expectTypeOf<Parameters<typeof connect>[0]>().toMatchTypeOf<
      { context?: Record<string, unknown> } | undefined
    >();
    const wrong = (client: Client) => {
      // @ts-expect-error a misspelled service
      void client.rpc.Greting;
      // @ts-expect-error a misspelled method
      void client.rpc.Greeting.gret;
      // @ts-expect-error a parameter of the wrong type
      void client.rpc.Greeting.greet({ name: 1 });
      // @ts-expect-error a deferred call's parameters are checked too
      void client.rpc.Greeting.greet.defer({ nme: 'a' });
      // Untyped access stays, for names known only at run time.
      expectTypeOf(client.call('Greeting', 'greet', {})).toEqualTypeOf<Promise<unknown>>();
    };
    expect(typeof wrong).toBe('function');
  });
});

describe('decorators hold the class to its [RPC] declaration', () => {
  it('rejects an @rpc method the class does not list, and a listed event handler', () => {
    class Unlisted extends Service {
      static override readonly serviceName = 'Unlisted';
      declare [RPC]: 'a' | 'handler';
      @rpc() a() {}
      // @ts-expect-error b is not in [RPC]
      @rpc() b() {}
      // @ts-expect-error handler is listed in [RPC] but handles events
      @event('x') handler() {}
    }
    class Undeclared extends Service {
      static override readonly serviceName = 'Undeclared';
      // @ts-expect-error a class with @rpc methods declares [RPC]
      @rpc() a() {}
    }
    class Renamed extends Service {
      static override readonly serviceName = 'Renamed';
      declare [RPC]: 'say_hello';
      // @ts-expect-error a renamed method is mapped in [RPC]: { say_hello: 'hello' }
      @rpc({ name: 'say_hello' }) hello() {}
    }
    class TwoParams extends Service {
      static override readonly serviceName = 'TwoParams';
      declare [RPC]: 'two';
      // @ts-expect-error an RPC method takes one parameters object
      @rpc() two(a: string, b: string) {
        return a + b;
      }
    }
    expect([Unlisted, Undeclared, Renamed, TwoParams].map((c) => c.serviceName)).toHaveLength(4);
  });
});

describe('sensitive arguments', () => {
  it('takes a list of parameter names and dotted paths, and shows it in svc.inspect()', async () => {
    class Payments extends Service {
      static override readonly serviceName = 'Payments';
      declare [RPC]: 'pay';
      @rpc({ sensitive: ['password', 'card.number'] }) pay(_p: {
        password: string;
        card: { number: string };
      }) {
        return true;
      }
    }
    class Wrong extends Service {
      static override readonly serviceName = 'Wrong';
      declare [RPC]: 'a' | 'b';
      // @ts-expect-error sensitive is a list, not one name
      @rpc({ sensitive: 'password' }) a() {}
      // @ts-expect-error sensitive lists names (strings)
      @rpc({ sensitive: [1] }) b() {}
    }
    expectTypeOf<Parameters<typeof rpc>[0]>().toMatchTypeOf<
      { sensitive?: readonly string[] } | undefined
    >();
    await using cluster = await testCluster([Payments]);
    const described = (await cluster.client.call('Payments', 'svc.inspect')) as {
      rpc: { name: string; sensitive?: string[] }[];
    };
    expect(described.rpc.find((m) => m.name === 'pay')?.sensitive).toEqual([
      'password',
      'card.number',
    ]);
    expect(Wrong.serviceName).toBe('Wrong');
  });
});

describe('schemas agree with signatures', () => {
  it('rejects a params schema of another type than the parameter', () => {
    class Mismatch extends Service {
      static override readonly serviceName = 'Mismatch';
      declare [RPC]: 'm' | 'missing' | 'extra' | 'zodded' | 'valibotted' | 'arked';
      // @ts-expect-error the schema says integer, the method says string
      @rpc({ params: { name: t.integer() } }) m({ name }: { name: string }) {
        return name;
      }
      // @ts-expect-error the method needs `times`, the schema lets it out
      @rpc({ params: { name: t.string() } }) missing(p: { name: string; times: number }) {
        return p;
      }
      // @ts-expect-error the schema makes `name` optional, the method needs it
      @rpc({ params: { name: t.optional(t.string()) } }) extra(p: { name: string }) {
        return p;
      }
      // @ts-expect-error a zod schema of another type
      @rpc({ params: z.object({ name: z.number() }) }) zodded(p: { name: string }) {
        return p;
      }
      // @ts-expect-error a valibot schema of another type
      @rpc({ params: v.object({ name: v.boolean() }) }) valibotted(p: { name: string }) {
        return p;
      }
      // @ts-expect-error an arktype schema of another type
      @rpc({ params: ark({ name: 'number' }) }) arked(p: { name: string }) {
        return p;
      }
    }
    expect(Mismatch.serviceName).toBe('Mismatch');
  });

  it('validates each call with a zod or valibot schema, typed as the method', async () => {
    class Shop extends Service {
      static override readonly serviceName = 'Shop';
      declare [RPC]: 'order' | 'refund';
      @rpc({ params: z.object({ item: z.string(), qty: z.number().int().default(1) }) })
      order({ item, qty }: { item: string; qty: number }) {
        return `${qty} x ${item}`;
      }
      @rpc({ params: v.object({ id: v.pipe(v.string(), v.minLength(3)) }) })
      refund({ id }: { id: string }) {
        return id;
      }
    }
    await using cluster = await testCluster([Shop]);
    expect(await cluster.client.rpc.Shop.order({ item: 'tea', qty: 2 })).toBe('2 x tea');
    // zod's default fills what the caller left out
    expect(await cluster.client.call('Shop', 'order', { item: 'tea' })).toBe('1 x tea');
    const bad = await cluster.client.call('Shop', 'order', { item: 3 }).catch((e: unknown) => e);
    expect(bad).toBeInstanceOf(ValidationError);
    expect((bad as Error).message).toMatch(/^invalid parameters for Shop\.order: item: /);
    await expect(cluster.client.rpc.Shop.refund({ id: 'ab' })).rejects.toThrow(
      'invalid parameters for Shop.refund: id: ',
    );
  });
});
