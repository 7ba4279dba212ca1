// The log records a process writes are batched (one write per few ms, not
// one per line): none may be lost or reordered when the process exits,
// crashes or is stopped, and a closed output must neither stop nor spin it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LogRecord } from '@svc/core';
import type { Logs } from '../fixtures/logging/services.js';
import { FIXTURES, Proc, TestEnv, requireBuild } from '../support/svc.js';

const cwd = join(FIXTURES, 'logging');
const env = new TestEnv();

beforeAll(() => requireBuild());
afterAll(() => env.stop());

/**
 * Runs fixtures/logging/burst.mjs to its end; its stderr, stdout and exit
 * code. `readDelayMs` leaves stderr unread for that long at first;
 * `slowReader` makes the reader wait 20 ms after each chunk it takes.
 */
async function burst(count: number, how: string, readDelayMs = 0, slowReader = false) {
  const child = spawn(process.execPath, [join(cwd, 'burst.mjs'), String(count), how], {
    cwd,
    env: { ...process.env, SVC_LOG_FORMAT: 'json' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Not reading for a while fills the pipe: the writer meets EAGAIN and must wait.
  if (readDelayMs > 0) {
    child.stderr.pause();
    setTimeout(() => child.stderr.resume(), readDelayMs);
  }
  if (slowReader) {
    child.stderr.on('data', () => {
      child.stderr.pause();
      setTimeout(() => child.stderr.resume(), 20);
    });
  }
  const proc = new Proc(child);
  // A slow reader is still reading after the exit: all of it is in once the pipes close.
  const closed = new Promise((r) => child.once('close', r));
  const { code } = await proc.exited;
  await closed;
  return { code, stderr: proc.stderr, stdout: proc.stdout };
}

/** The numbers of the `line N` records in the output, in the order they came. */
const numbered = (text: string, prefix: string) =>
  text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { msg: string })
    .filter((r) => r.msg.startsWith(prefix))
    .map((r) => Number(r.msg.slice(prefix.length)));

const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe('batched log output', () => {
  it.each([
    ['process.exit()', 'exit', 3],
    ['an uncaught exception', 'throw', 1],
    ['an unhandled rejection', 'reject', 1],
    ['the event loop running dry', 'end', 0],
  ])('writes every record, in order, when a process ends by %s', async (_what, how, code) => {
    const out = await burst(3000, how);
    expect(out.code).toBe(code);
    expect(out.stdout).toBe('logged\n');
    expect(numbered(out.stderr, 'line ')).toEqual(upTo(3000));
    // Node prints an uncaught error itself: after the records logged before it.
    if (how === 'throw')
      expect(out.stderr.indexOf('crashed on purpose')).toBeGreaterThan(
        out.stderr.indexOf('"line 2999"'),
      );
  });

  it.each([
    ['an uncaught exception', 'throw', 'crashed on purpose'],
    ['an unhandled rejection', 'reject', 'rejected on purpose'],
  ])(
    "prints %s's own message after the records when the reader is slower than the burst",
    async (_what, how, message) => {
      // The records flushed on the crash leave the pipe full: Node's own write of the error must wait, not be lost.
      const out = await burst(3000, how, 0, true);
      expect(out.code).toBe(1);
      expect(numbered(out.stderr, 'line ')).toEqual(upTo(3000));
      expect(out.stderr.indexOf(message)).toBeGreaterThan(out.stderr.indexOf('"line 2999"'));
    },
  );

  it('waits for a full pipe on exit instead of dropping what it does not take', async () => {
    // About 1 MB of records, far more than a pipe holds, read only after the process has exited.
    const out = await burst(8000, 'exit', 500);
    expect(out.code).toBe(3);
    expect(numbered(out.stderr, 'line ')).toEqual(upTo(8000));
  });
});

/** Each call's record printed too (`log.calls: output`), as these tests read them from the output. */
const PRINT_CALLS = { SVC_LOG_CALLS: 'output' };

describe('svc instance', () => {
  it("keeps each call's record in its history and log stream, not in its output, by default", async () => {
    const proc = await env.instance('logs.yml', { cwd });
    const client = await env.client<{ Logs: Logs }>();
    let history: LogRecord[];
    try {
      for (let i = 0; i < 5; i++) await client.rpc.Logs.say({ count: 1 });
      history = (await client.call('Logs', 'svc.recent_logs', {})) as LogRecord[];
    } finally {
      await client.close();
    }
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const kept = history.filter((r) => r.msg === 'rpc Logs.say ok');
    expect(kept).toHaveLength(5);
    for (const r of kept) {
      expect(r.traceId).toMatch(/^[0-9a-f]{32}$/);
      expect(r['duration_ms']).toBeTypeOf('number');
    }
    const printed = proc.logs().map((l) => l.msg);
    expect(printed.filter((m) => m === 'say 0')).toHaveLength(5);
    expect(printed.some((m) => m.endsWith(' ok'))).toBe(false);
  });

  it('writes every per-call record before it exits on SIGTERM', async () => {
    const proc = await env.instance('logs.yml', { cwd, env: PRINT_CALLS });
    const client = await env.client<{ Logs: Logs }>();
    try {
      for (let i = 0; i < 200; i++) await client.rpc.Logs.say({ count: 1 });
    } finally {
      await client.close();
    }
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
    const logs = proc.logs();
    expect(logs.filter((l) => l.msg === 'rpc Logs.say ok')).toHaveLength(200);
    expect(logs.filter((l) => l.msg === 'say 0')).toHaveLength(200);
    expect(logs.at(-1)?.msg).toBe('stopped');
  });

  it('writes its records and the crash, in order, when an uncaught exception stops it', async () => {
    const proc = await env.instance('logs.yml', { cwd, env: PRINT_CALLS });
    const client = await env.client<{ Logs: Logs }>();
    try {
      expect(await client.rpc.Logs.say({ count: 500 })).toBe(500);
      expect(await client.rpc.Logs.crash()).toBe('crashing');
    } finally {
      await client.close();
    }
    expect((await proc.exited).code).toBe(1);
    const msgs = proc.logs().map((l) => l.msg);
    expect(numbered(proc.stderr, 'say ')).toEqual(upTo(500));
    const crash = msgs.findIndex((m) => m.includes('crashed on purpose'));
    expect(crash).toBeGreaterThan(msgs.indexOf('say 499'));
    expect(msgs.indexOf('rpc Logs.crash ok')).toBeLessThan(crash);
  });

  it('writes its records when its service calls process.exit()', async () => {
    const proc = await env.instance('logs.yml', { cwd, env: PRINT_CALLS });
    const client = await env.client<{ Logs: Logs }>();
    try {
      await client.rpc.Logs.say({ count: 300 });
      await client.rpc.Logs.exit();
    } finally {
      await client.close();
    }
    expect((await proc.exited).code).toBe(3);
    expect(numbered(proc.stderr, 'say ')).toEqual(upTo(300));
    expect(proc.logs().some((l) => l.msg === 'rpc Logs.exit ok')).toBe(true);
  });

  it('keeps answering, without spinning, after nobody reads its output any more', async () => {
    const proc = await env.instance('logs.yml', { cwd });
    // Closing the read ends makes every later write fail with EPIPE.
    proc.child.stdout!.destroy();
    proc.child.stderr!.destroy();
    const client = await env.client<{ Logs: Logs }>();
    try {
      for (let i = 0; i < 50; i++) expect(await client.rpc.Logs.say({ count: 100 })).toBe(100);
      // A writer that retried a dead pipe, or logged its own failure, would burn a core while idle.
      const cpu0 = cpuTicks(proc.pid);
      await new Promise((r) => setTimeout(r, 1000));
      expect(cpuTicks(proc.pid) - cpu0).toBeLessThan(50);
      expect(await client.rpc.Logs.say({ count: 1 })).toBe(1);
    } finally {
      await client.close();
    }
    proc.child.kill('SIGTERM');
    expect((await proc.exited).code).toBe(0);
  });
});

/** CPU time (user + system) a live process has used, in clock ticks (1/100 s). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return Number(fields[11]) + Number(fields[12]);
}
