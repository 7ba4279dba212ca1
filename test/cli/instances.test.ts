// Several instances of one service: broadcast, round-robin, and what happens when one is SIGKILLed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TestEnv, requireBuild, type Proc } from '../support/svc.js';
import type { Echo } from '../fixtures/echo/services.js';

const env = new TestEnv();
const cwd = `${FIXTURES}/echo`;
let a: Proc;
let b: Proc;

beforeAll(async () => {
  requireBuild();
  [a, b] = await Promise.all([
    env.instance('echo.yml', { cwd }),
    env.instance('echo.yml', { cwd }),
  ]);
}, 60_000);
afterAll(() => env.stop());

const count = (p: Proc, prefix: string) => p.logs().filter((l) => l.msg.startsWith(prefix)).length;

describe('two instances of a service', () => {
  it('both handle every broadcast event, and each singlecast event is handled once', async () => {
    expect((await env.run(['emit', 'flush', '{"n": 1}'], { cwd })).code).toBe(0);
    await expect.poll(() => [count(a, 'flush 1'), count(b, 'flush 1')]).toEqual([1, 1]);
    const client = await env.client();
    try {
      for (let n = 0; n < 4; n++) await client.emit('ping', { n });
    } finally {
      await client.close();
    }
    await expect.poll(() => count(a, 'ping ') + count(b, 'ping ')).toBe(4);
    expect(count(a, 'ping ')).toBe(2);
    expect(count(b, 'ping ')).toBe(2);
  });

  it('answer calls in turn', async () => {
    const client = await env.client<{ Echo: Echo }>();
    try {
      const pids = new Set<unknown>();
      for (let i = 0; i < 6; i++) pids.add(await client.rpc.Echo.whoami());
      expect([...pids].sort()).toEqual([a.pid, b.pid].sort());
    } finally {
      await client.close();
    }
  });

  it('fail a call in flight on a SIGKILLed instance with a clear error, drop it from discovery, and send new calls to the survivor', async () => {
    const json = JSON.parse((await env.run(['discover', '--json'], { cwd })).stdout) as Record<
      string,
      Array<{ pid: number; endpoints: { rpc: string } }>
    >;
    const victim = json['Echo']!.find((r) => r.pid === a.pid)!;
    const inFlight = env.run(
      [
        'request',
        'Echo.sleep',
        '{"ms": 5000}',
        '--address',
        victim.endpoints.rpc,
        '--timeout',
        '10000',
      ],
      { cwd },
    );
    // The CLI takes a few hundred ms to start and send; the call sleeps 5 s, so it is running there by then.
    await new Promise((r) => setTimeout(r, 1000));
    a.child.kill('SIGKILL');
    const failed = await inFlight;
    expect(failed.code).toBe(1);
    expect(failed.stderr.trim()).toMatch(/^svc: .*(lost|closed|went away|disconnected)/i);

    await expect
      .poll(async () => (await env.run(['discover'], { cwd })).stdout.trim(), { timeout: 5000 })
      .toBe('Echo [1]');
    for (let i = 0; i < 3; i++) {
      const { code, stdout } = await env.run(['request', '--json', 'Echo.whoami'], { cwd });
      expect(code).toBe(0);
      expect(Number(stdout)).toBe(b.pid);
    }
  });
});
