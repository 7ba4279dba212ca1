import { describe, expect, it } from 'vitest';
import { ConnectionLostError, RpcTimeoutError } from '../errors.js';
import { PendingCalls } from './pending.js';

describe('PendingCalls', () => {
  it('settles a call once: its answer wins and a later one finds nothing', async () => {
    const calls = new PendingCalls<string>();
    const answer = calls.wait(1, 60_000, 'Greeting', 'greet', undefined);
    expect(calls.size).toBe(1);
    expect(calls.resolve(1, 'hi')).toBe(true);
    expect(calls.resolve(1, 'again')).toBe(false);
    expect(calls.reject(1, new Error('late'))).toBe(false);
    expect(await answer).toBe('hi');
    expect(calls.size).toBe(0);
  });

  it('fails a call that is not answered in time with RpcTimeoutError naming it, and only that one', async () => {
    const calls = new PendingCalls<string>();
    const slow = calls.wait(1, 20, 'Greeting', 'greet', undefined);
    const patient = calls.wait(2, 60_000, 'delivery of event "greeted"', undefined, undefined);
    const err = await slow.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RpcTimeoutError);
    expect((err as Error).message).toBe('Greeting.greet did not answer within 20 ms');
    expect(calls.size).toBe(1);
    calls.resolve(2, 'ok');
    expect(await patient).toBe('ok');
  });

  it('fails every waiting call when its connection is lost, keeping what each carried', async () => {
    const calls = new PendingCalls<string, { sent: string }>();
    const a = calls.wait(1, 60_000, 'A', 'x', { sent: 'first' });
    const b = calls.wait(2, 60_000, 'B', 'y', { sent: 'second' });
    expect([...calls.entries()].map(([id, call]) => [id, call.meta.sent])).toEqual([
      [1, 'first'],
      [2, 'second'],
    ]);
    calls.failAll(new ConnectionLostError('gone'));
    await expect(a).rejects.toBeInstanceOf(ConnectionLostError);
    await expect(b).rejects.toThrow('gone');
    expect(calls.size).toBe(0);
  });

  it('gives a call to one taker only', () => {
    const calls = new PendingCalls<string>();
    void calls.wait(7, 60_000, 'A', 'x', undefined);
    expect(calls.get(7)?.what).toBe('A');
    const taken = calls.take(7);
    expect(taken?.method).toBe('x');
    expect(calls.take(7)).toBeUndefined();
    taken?.resolve('done');
  });
});
