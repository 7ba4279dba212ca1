import { afterAll, describe, expect, it } from 'vitest';
import { AMQP_URL } from '../amqp/helpers.js';
import { freePort } from '../node/helpers.js';
import { START_TIMEOUT_MS, TestEnv, requireBuild } from '../support/svc.js';
import { TARGET, until } from './helpers.js';

// Human output and errors (issue 13, item 4): what comes from the wire is
// escaped, secrets are masked, and a broker that refuses us says so.

describe('clean output and errors', () => {
  const env = new TestEnv();
  afterAll(() => env.stop());

  it('escapes control characters from a request in pretty log lines (what svc node shows)', async () => {
    requireBuild();
    const port = await freePort();
    const proc = env.spawn(['instance', '--config', 'target.yml'], {
      cwd: TARGET,
      env: { SVC_LOG_FORMAT: 'pretty', SVC_LOG_COLOR: '0', HTTP_PORT: String(port) },
    });
    await until(
      () => / INFO +started /.test(proc.stderr),
      'the instance to start',
      START_TIMEOUT_MS,
    );
    const forged = 'bob%0a12:00:00.000%20Greeting/deadbeef%20ERROR%20forged%1b%5b31m';
    const res = await fetch(`http://127.0.0.1:${port}/greet?name=${forged}`);
    expect(res.status).toBe(200);
    await until(() => proc.stderr.includes('greeting bob'), 'the greeting to be logged');
    // One line, with the newline and the escape shown, not acted on.
    expect(proc.stderr).toContain(
      'greeting bob\\n12:00:00.000 Greeting/deadbeef ERROR forged\\x1b[31m',
    );
    expect(proc.stderr).not.toMatch(/^12:00:00\.000 Greeting\/deadbeef ERROR forged/m);
    expect(proc.stderr).not.toContain('\x1b');
  });

  it('escapes control characters in a remote error that svc request prints', async () => {
    requireBuild();
    await env.instance('target.yml', { cwd: TARGET });
    const forged = 'bob\n12:00:00.000 Greeting/deadbeef ERROR forged\u001b[31m';
    const { code, stderr } = await env.run([
      'request',
      'Target.fail',
      JSON.stringify({ name: forged }),
    ]);
    expect(code).toBe(1);
    expect(stderr).toContain(
      'no user called bob\\n12:00:00.000 Greeting/deadbeef ERROR forged\\x1b[31m',
    );
    expect(stderr).not.toContain('\x1b');
    expect(stderr.trimEnd().split('\n')).toHaveLength(1);
  });

  it('masks passwords in svc config', async () => {
    const { code, stdout } = await env.run(['config', 'target.yml'], {
      cwd: TARGET,
      env: { SVC_RPC: 'amqp://guest:hunter2@127.0.0.1:5672/' },
    });
    expect(code).toBe(0);
    expect(stdout).toContain('rpc: amqp://guest:***@127.0.0.1:5672/');
    expect(stdout).not.toContain('hunter2');
  });

  it('svc request reports an unreachable broker or a refused password as such, not as a timeout', async () => {
    const down = await env.run(['request', 'Target.greet', '{"name":"x"}', '--timeout', '1500'], {
      env: { SVC_RPC: 'amqp://guest:guest@127.0.0.1:1/' },
    });
    expect(down.code).not.toBe(0);
    expect(down.stderr).toMatch(
      /^svc: RabbitMQ at amqp:\/\/guest:\*\*\*@127\.0\.0\.1:1\/ not reachable within 1500 ms: connect ECONNREFUSED/,
    );
    // The real broker of the test suite, with a wrong password.
    const wrong = new URL(AMQP_URL);
    wrong.password = 'wrong';
    const refused = await env.run(
      ['request', 'Target.greet', '{"name":"x"}', '--timeout', '1500'],
      { env: { SVC_RPC: wrong.href } },
    );
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/not reachable within 1500 ms: .*ACCESS.REFUSED/);
    expect(refused.stderr).not.toContain('did not answer');
  });
});
