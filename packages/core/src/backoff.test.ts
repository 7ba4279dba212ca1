import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('grows each wait by its factor up to the bound, each shortened by at most the jitter', () => {
    const backoff = new Backoff({ initialMs: 100, factor: 2, maxMs: 1000, jitter: 0.2 });
    const ceilings = [100, 200, 400, 800, 1000, 1000];
    for (let round = 0; round < 50; round++) {
      backoff.reset();
      for (const ceiling of ceilings) {
        const wait = backoff.next();
        expect(wait).toBeLessThanOrEqual(ceiling);
        expect(wait).toBeGreaterThanOrEqual(ceiling * 0.8);
      }
    }
    expect(backoff.attempts).toBe(ceilings.length);
  });

  it('spreads the waits of clients that failed together', () => {
    const waits = new Set(
      Array.from({ length: 20 }, () => new Backoff({ initialMs: 1000, maxMs: 5000 }).next()),
    );
    expect(waits.size).toBeGreaterThan(1);
  });

  it('starts from the first wait again after a reset, and waits exactly without jitter', () => {
    const backoff = new Backoff({ initialMs: 50, maxMs: 400, jitter: 0 });
    expect([backoff.next(), backoff.next(), backoff.next()]).toEqual([50, 100, 200]);
    backoff.reset();
    expect(backoff.next()).toBe(50);
    expect(backoff.delay(10)).toBe(400);
  });
});
