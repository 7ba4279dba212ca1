// svc tail against a real cluster of `svc instance` processes on the embedded defaults.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestEnv, requireBuild, type LogLine, type Proc } from '../support/svc.js';
import { parentIn, treeRows } from '../support/tree.js';

const env = new TestEnv();
const PRINT_CALLS = { SVC_LOG_CALLS: 'output' };
let greeting: Proc;
let listen: Proc;
let web: Proc;
let webUrl: string;

function instanceId(proc: Proc): string {
  return proc.logs().find((l) => l.msg.startsWith('started '))!.instance!;
}

/** Starts `svc tail ARGS` and waits until it follows `count` instances. */
async function tail(args: string[], count: number): Promise<Proc> {
  const proc = env.spawn(['tail', ...args]);
  await proc.waitFor(
    (p) => (p.stderr.match(/following /g) ?? []).length >= count,
    `tail ${args.join(' ')} to follow ${count} instances`,
  );
  return proc;
}

async function greet(name: string): Promise<string> {
  const res = await fetch(`${webUrl}/greet?name=${name}`);
  expect(res.status).toBe(200);
  return res.headers.get('x-trace-id')!;
}

function jsonLines(text: string): LogLine[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogLine);
}

beforeAll(async () => {
  requireBuild();
  [greeting, listen, web] = await Promise.all([
    // Each call's record printed too (`log.calls: output`): the test holds tail's lines against them.
    env.instance('conf/greeting.yml', { env: PRINT_CALLS }),
    env.instance('conf/listen.yml', { env: PRINT_CALLS }),
    env.instance('conf/web.yml', { env: { WEB_PORT: '0', ...PRINT_CALLS } }),
  ]);
  const started = web.logs().find((l) => l.msg.startsWith('started Web'))!;
  webUrl = /http (http:\/\/[^\s,)]+)/.exec(started.msg)![1]!;
}, 60_000);

afterAll(() => env.stop());

describe('svc tail', () => {
  it('prints the records of every named service with the trace id of an HTTP request', async () => {
    const t = await tail(['Greeting', 'Listen', 'Web'], 3);
    const traceId = await greet('John');
    const short = traceId.slice(0, 12);
    await t.waitFor(
      (p) =>
        p.stdout.includes('Somebody greeted John') &&
        p.stdout.split('\n').some((l) => l.includes(short) && l.includes('http GET /greet 200')),
      'the Listen and access records of the request',
    );
    const lines = t.stdout.split('\n').filter((l) => l.includes(short));
    const expectLine = (who: string, id: string, msg: string) =>
      expect(lines.some((l) => l.includes(`${who}/${id.slice(0, 8)}`) && l.includes(msg))).toBe(
        true,
      );
    expectLine('Web', instanceId(web), 'About to greet John');
    expectLine('Greeting', instanceId(greeting), 'Saying hi to John');
    expectLine('Greeting', instanceId(greeting), 'rpc Greeting.greet ok');
    expectLine('Listen', instanceId(listen), 'Somebody greeted John');
    expectLine('Web', instanceId(web), 'http GET /greet 200');
    // Piped: one plain line a record, no colour codes.
    expect(t.stdout).not.toContain('\x1b[');
    expect(lines[0]).toMatch(
      /^\d\d:\d\d:\d\d\.\d{3} {2}\w+\/[0-9a-f]{8} +INFO {3}[0-9a-f]{12} {2}/,
    );
  });

  it('--trace prints exactly the records of a finished trace, in time order', async () => {
    const other = await greet('Ann');
    const traceId = await greet('Bob');
    await listen.waitFor(
      (p) => p.hasLog((l) => l.traceId === traceId && l.msg === 'event Listen.onGreeted ok'),
      'Listen to handle the event',
    );
    const { code, stdout } = await env.run(['tail', '--trace', traceId, '--no-follow', '--json']);
    expect(code).toBe(0);
    const got = jsonLines(stdout);
    const expected = [greeting, listen, web].flatMap((p) =>
      p.logs().filter((l) => l.traceId === traceId),
    );
    const key = (l: LogLine) => `${l.instance}|${l.time}|${l.msg}`;
    expect(got.map(key).sort()).toEqual(expected.map(key).sort());
    expect(new Set(got.map((l) => l.service))).toEqual(new Set(['Web', 'Greeting', 'Listen']));
    const times = got.map((l) => l.time);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(stdout).not.toContain(other);
    // Durations on the path HTTP → Greeting.greet → greeted → Listen.
    for (const msg of ['http GET /greet 200', 'rpc Greeting.greet ok', 'event Listen.onGreeted ok'])
      expect(got.find((l) => l.msg === msg)?.['duration_ms']).toBeGreaterThan(0);

    // The 12-character id tail prints finds the same records, as lines.
    const plain = await env.run(['tail', '--trace', traceId.slice(0, 12), '--no-follow']);
    expect(plain.stdout.trim().split('\n')).toHaveLength(got.length);
  });

  it('--trace prints a finished trace as a tree: Greeting.greet under Web, Listen under Greeting', async () => {
    const traceId = await greet('Cyd');
    await listen.waitFor(
      (p) => p.hasLog((l) => l.traceId === traceId && l.msg === 'event Listen.onGreeted ok'),
      'Listen to handle the event',
    );
    const { code, stdout } = await env.run(['tail', '--trace', traceId, '--no-follow']);
    expect(code).toBe(0);
    const rows = treeRows(stdout);
    const parentOf = (msg: string) => parentIn(rows, msg);
    expect(rows[0]).toEqual({ service: 'Web', depth: 0, msg: 'http GET /greet 200' });
    expect(parentOf('http Web.greet ok')).toBe('http GET /greet 200');
    expect(parentOf('About to greet Cyd')).toBe('http Web.greet ok');
    expect(parentOf('rpc Greeting.greet ok')).toBe('http Web.greet ok');
    expect(parentOf('Saying hi to Cyd')).toBe('rpc Greeting.greet ok');
    expect(parentOf('event Listen.onGreeted ok')).toBe('rpc Greeting.greet ok');
    expect(parentOf('Somebody greeted Cyd')).toBe('event Listen.onGreeted ok');
    expect(rows.find((r) => r.msg === 'Somebody greeted Cyd')).toMatchObject({
      service: 'Listen',
      depth: 4,
    });
    expect(rows).toHaveLength(7);
    // Durations stay on the call lines.
    expect(stdout).toMatch(/rpc Greeting\.greet ok {2}\(\d+(\.\d+)? m?s\)/);
    expect(stdout).not.toContain('\x1b[');
  });

  it('--level and --grep filter live records', async () => {
    const warn = await tail(['--level', 'warn', '--json'], 3);
    const grep = await tail(['--grep', 'zoe'], 3);
    await greet('Zoe');
    await greet('Yan');
    const bad = await fetch(`${webUrl}/greet`);
    expect(bad.status).toBe(400);
    await warn.waitFor((p) => p.stdout.includes('query parameter'), 'the failed request');
    await grep.waitFor((p) => p.stdout.includes('Somebody greeted Zoe'), 'the Zoe records');
    const warned = jsonLines(warn.stdout);
    expect(warned.length).toBeGreaterThan(0);
    expect(warned.every((l) => l.level === 'warn' || l.level === 'error')).toBe(true);
    expect(warned.some((l) => l.service === 'Web')).toBe(true);
    const grepped = grep.stdout.trim().split('\n');
    expect(grepped.length).toBeGreaterThanOrEqual(3);
    expect(grepped.every((l) => l.toLowerCase().includes('zoe'))).toBe(true);
    expect(grep.stdout).not.toContain('Yan');
  });

  it('picks up an instance started after it, and lets go of it quietly when it stops', async () => {
    const t = await tail(['Greeting'], 1);
    const late = await env.instance('conf/greeting.yml');
    const lateId = instanceId(late);
    await t.waitFor(
      (p) => p.stderr.includes(`following Greeting/${lateId.slice(0, 8)}`),
      'tail to follow the new instance',
    );
    // A call at the new instance's own address (a fresh client picks either instance).
    const found = JSON.parse((await env.run(['discover', '--json'])).stdout) as Record<
      string,
      Array<{ pid: number; endpoints: { rpc: string } }>
    >;
    const address = found['Greeting']!.find((r) => r.pid === late.pid)!.endpoints.rpc;
    const r = await env.run([
      'request',
      'Greeting.greet',
      '{"name": "late"}',
      '--address',
      address,
    ]);
    expect(r.code).toBe(0);
    await t.waitFor(
      (p) => p.stdout.includes(`Greeting/${lateId.slice(0, 8)}`),
      'a record of the new instance',
    );
    late.child.kill('SIGTERM');
    expect((await late.exited).code).toBe(0);
    await greet('after');
    await t.waitFor((p) => p.stdout.includes('Saying hi to after'), 'records after the stop');
    expect(t.child.exitCode).toBeNull();
    expect(t.stderr).not.toMatch(/error|svc: /i);
  });

  it('refuses a bad level or --no-follow without --trace with one line and exit 2', async () => {
    const bad = await env.run(['tail', '--level', 'loud']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe(
      'svc: --level must be one of debug, info, warn, error (got "loud")',
    );
    const noFollow = await env.run(['tail', '--no-follow']);
    expect(noFollow.code).toBe(2);
    expect(noFollow.stderr).toContain('--no-follow needs --trace');
  });
});
