// Nameko's RPC example, tested with svc's test kit.
import { ValidationError } from '@svc/core';
import { testCluster, workerFactory } from '@svc/core/testing';
import { describe, expect, it } from 'vitest';
import { Greeter, HelloWorld } from '../services/helloworld.js';

describe('helloworld', () => {
  it('says hello to a name', () => {
    expect(workerFactory(HelloWorld).service.hello({ name: 'John' })).toBe('Hello, John!');
  });
});

describe('greeter, alone (helloworld stubbed)', () => {
  // Typed by what Greeter calls: `name` is a string, the stub must return one.
  const stub = { helloworld: { hello: ({ name }: { name: string }) => `stub ${name}` } };

  it('asks helloworld and answers what it said', async () => {
    const worker = workerFactory(Greeter, { rpc: stub });
    expect(await worker.service.greet({ name: 'John' })).toBe('stub John');
    expect(worker.calls).toEqual([
      { service: 'helloworld', method: 'hello', params: { name: 'John' } },
    ]);
  });

  it('starts one deferred call per name and collects the replies in order', async () => {
    const worker = workerFactory(Greeter, { rpc: stub });
    expect(await worker.service.greet_all({ names: ['a', 'b', 'c'] })).toEqual([
      'stub a',
      'stub b',
      'stub c',
    ]);
    expect(worker.calls.map((c) => c.params)).toEqual([
      { name: 'a' },
      { name: 'b' },
      { name: 'c' },
    ]);
  });
});

describe('greeter and helloworld together', () => {
  it('greets through helloworld over RPC', async () => {
    await using cluster = await testCluster([HelloWorld, Greeter]);
    expect(await cluster.client.rpc.greeter.greet({ name: 'John' })).toBe('Hello, John!');
    expect(await cluster.client.rpc.greeter.greet_all({ names: ['Ann', 'Bob'] })).toEqual([
      'Hello, Ann!',
      'Hello, Bob!',
    ]);
  });

  it('rejects bad parameters with a validation error naming the problem', async () => {
    await using cluster = await testCluster([HelloWorld, Greeter]);
    // Untyped calls, as the CLI or a Nameko peer makes them: the compiler would refuse these.
    const err: unknown = await cluster.client
      .call('helloworld', 'hello', { name: 5 })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as Error).message).toContain('name must be a string, got number 5');
    await expect(cluster.client.call('greeter', 'greet_all', { names: 'Ann' })).rejects.toThrow(
      'names must be an array',
    );
  });

  it('fails fast with a clear error when helloworld is not running', async () => {
    await using cluster = await testCluster([Greeter]);
    await expect(cluster.client.rpc.greeter.greet({ name: 'John' })).rejects.toThrow(
      'no live instance of service "helloworld"',
    );
  });
});
