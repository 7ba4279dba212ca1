import { describe, expect, it } from 'vitest';
import { timer } from '../decorators.js';
import { Service } from '../service.js';
import { testCluster } from '../testing/index.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

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
