// The tour through `svc node`, as the article runs it: Web 2, Greeting 3, Listen 4, one shared socket.
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';

const env = new TestEnv();
let node: Proc;
let port: number;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  requireBuild();
  port = await freePort();
  const config = join(env.registryDir, 'svc.yml');
  // The example's .svc.yml, on a port of this test's own.
  writeFileSync(
    config,
    `instances:
  Web: { command: svc instance --config=conf/web.yml, numprocesses: 2, cwd: ${TOUR} }
  Greeting: { command: svc instance --config=conf/greeting.yml, numprocesses: 3, cwd: ${TOUR} }
  Listen: { command: svc instance --config=conf/listen.yml, numprocesses: 4, cwd: ${TOUR} }
sockets:
  Web: { port: ${port} }
`,
  );
  node = env.spawn(['node', '--config', config], { env: { SVC_LOG_FORMAT: 'pretty' } });
  const deadline = Date.now() + 30_000;
  let seen = '';
  while (
    (seen = (await env.run(['discover'])).stdout.trim()) !== 'Greeting [3]\nListen [4]\nWeb [2]'
  ) {
    if (Date.now() > deadline)
      throw new Error(`the cluster did not come up: svc discover says:\n${seen}\n${node.stdout}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}, 60_000);

afterAll(() => env.stop());

describe('the tour through svc node', () => {
  it('answers on the shared socket with X-Trace-Id, and the node prints the haiku', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/greet?name=Flynne`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('Hi, Flynne!');
    const traceId = res.headers.get('x-trace-id')!.slice(0, 10);
    await node.waitFor(
      (p) =>
        ['About to greet Flynne', 'Saying hi to Flynne', 'Somebody greeted Flynne'].every((m) =>
          `${p.stdout}${p.stderr}`.includes(`[${traceId}] ${m}`),
        ),
      'the three lines of the haiku',
      5000,
    );
    const output = `${node.stdout}\n${node.stderr}`;
    expect(output).toMatch(
      new RegExp(`^Web\\.[01] +\\| .*\\[${traceId}\\] About to greet Flynne$`, 'm'),
    );
    expect(output).toMatch(
      new RegExp(`^Greeting\\.[012] +\\| .*\\[${traceId}\\] Saying hi to Flynne$`, 'm'),
    );
    expect(output).toMatch(
      new RegExp(`^Listen\\.[0-3] +\\| .*\\[${traceId}\\] Somebody greeted Flynne$`, 'm'),
    );
  });

  it('lists its nine processes with svc node status and stops them all on SIGTERM', async () => {
    const status = await env.run(['node', 'status', '--config', join(env.registryDir, 'svc.yml')]);
    expect(status.code).toBe(0);
    const rows = status.stdout.split('\n').filter((l) => /^(Web|Greeting|Listen) +\d/.test(l));
    expect(rows).toHaveLength(9);
    const pids = rows.map((r) => Number(r.split(/\s+/)[2]));
    node.child.kill('SIGTERM');
    const exit = await node.exited;
    expect(exit, node.stderr.slice(-2000)).toEqual({ code: 0, signal: null });
    for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow();
    expect((await env.run(['discover'])).stderr).toContain('no services are running');
  });
});
