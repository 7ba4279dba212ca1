// svc shell --instance and svc debug against real `svc instance` processes:
// one whose config turns both on (test/fixtures/debug), one the tour's own
// (both off), driven through a pipe, a real terminal (tmux) and a real
// WebSocket to the inspector.
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, REPO, SVC_BIN, TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';
import { Tmux } from '../support/tmux.js';

const env = new TestEnv();
const DEBUG_CONFIG = join(FIXTURES, 'debug/greeting.yml');
let open: Proc;
let openId: string;
let closed: Proc;
let closedId: string;

function instanceId(proc: Proc): string {
  const started = proc.logs().find((l) => l.msg.startsWith('started '));
  if (typeof started?.instance !== 'string') throw new Error('the instance logged no id');
  return started.instance;
}

beforeAll(async () => {
  requireBuild();
  [open, closed] = await Promise.all([
    env.instance(DEBUG_CONFIG, { cwd: REPO }),
    env.instance('conf/greeting.yml'),
  ]);
  openId = instanceId(open);
  closedId = instanceId(closed);
}, 60_000);

afterAll(() => env.stop());

/** `svc shell --instance ID` with `input` piped to its stdin. */
async function piped(
  args: string[],
  input: string,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SVC_BIN, 'shell', ...args], {
    cwd: TOUR,
    env: env.env(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  child.stdin.end(input);
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/**
 * Sends one CDP `Runtime.evaluate` over a real WebSocket to `url` and
 * returns its result. In a child Node: Node 20 has WebSocket only behind
 * --experimental-websocket, Node 22 and later without it.
 */
function cdpEvaluate(url: string, expression: string): Promise<{ value?: unknown }> {
  const script = `
    const ws = new WebSocket(process.argv[1]);
    const timer = setTimeout(() => { console.error('no answer'); process.exit(3); }, 10000);
    ws.onerror = () => { console.error('websocket error'); process.exit(2); };
    ws.onopen = () => ws.send(JSON.stringify({ id: 1, method: 'Runtime.evaluate',
      params: { expression: process.argv[2], returnByValue: true } }));
    ws.onmessage = (m) => {
      const msg = JSON.parse(String(m.data));
      if (msg.id !== 1) return;
      clearTimeout(timer);
      console.log(JSON.stringify(msg.result.result));
      ws.close();
      process.exit(0);
    };`;
  const flags = typeof globalThis.WebSocket === 'function' ? [] : ['--experimental-websocket'];
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [...flags, '-e', script, url, expression],
      { timeout: 20_000 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`CDP client failed: ${err.message}\n${stderr}`));
        else resolve(JSON.parse(stdout) as { value?: unknown });
      },
    );
  });
}

describe('svc shell --instance -c', () => {
  it('runs code inside the instance: a service method as a real worker, in its process', async () => {
    const r = await env.run([
      'shell',
      '--instance',
      openId,
      '-c',
      'await services.Greeting.greet({ name: "Inside" })',
    ]);
    expect(r).toMatchObject({ code: 0, stdout: '"Hi, Inside!"\n' });
    await open.waitFor(
      (p) => p.hasLog((l) => l.msg === 'Saying hi to Inside' && l.service === 'Greeting'),
      'the worker to log in the instance',
    );
    const pid = await env.run(['shell', '-i', openId.slice(0, 6), '-c', 'process.pid']);
    expect(pid).toMatchObject({ code: 0, stdout: `${open.pid}\n` });
    const scope = await env.run([
      'shell',
      '-i',
      openId,
      '-c',
      '[Object.keys(services), containers.Greeting.state, instance.id, typeof rpc.Greeting.greet, context.traceId.length]',
    ]);
    expect(JSON.parse(scope.stdout)).toEqual([['Greeting'], 'started', openId, 'function', 32]);
  });

  it("shows the code's error and exits 1; the instance lives on", async () => {
    const r = await env.run(['shell', '-i', openId, '-c', 'null.x']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("svc shell: TypeError: Cannot read properties of null (reading 'x')\n");
    const missing = await env.run(['shell', '-i', openId, '-c', 'await services.Greeting.nope()']);
    expect(missing.stderr).toContain('Greeting has no entrypoint "nope" (it has: greet)');
    const after = await env.run(['shell', '-i', openId, '-c', '1 + 1']);
    expect(after).toMatchObject({ code: 0, stdout: '2\n' });
  });

  it('stops code that runs past its timeout, a busy loop included', async () => {
    const loop = await env.run([
      'shell',
      '-i',
      openId,
      '--timeout',
      '300',
      '-c',
      'while (true) {}',
    ]);
    expect(loop.code).toBe(1);
    expect(loop.stderr).toContain('TimeoutError: the code ran longer than 300 ms');
    const wait = await env.run([
      'shell',
      '-i',
      openId,
      '--timeout',
      '300',
      '-c',
      'await new Promise((r) => setTimeout(r, 5000))',
    ]);
    expect(wait.stderr).toContain('TimeoutError: the code did not finish within 300 ms');
    expect(open.child.exitCode).toBeNull();
  });

  it('refuses, naming the config key, where the config does not enable it', async () => {
    const r = await env.run(['shell', '--instance', closedId, '-c', 'process.pid']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `svc: svc.eval is off in instance ${closedId} (Greeting): set "debug: { shell: true }" in its config (${join(TOUR, 'conf/greeting.yml')}) to allow it\n`,
    );
    expect(r.stdout).toBe('');
  });

  it('runs nothing for a process that is not a member of the cluster (another secret)', async () => {
    const r = await env.run(['shell', '--instance', openId, '-c', 'globalThis.outsider = 1; 2'], {
      env: { SVC_SECRET: 'not-the-secret-of-this-cluster' },
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('does not know this cluster secret');
    expect(r.stdout).toBe('');
    // The member's own shell finds no trace of the outsider's code in the instance.
    const inside = await env.run(['shell', '-i', openId, '-c', 'typeof globalThis.outsider']);
    expect(inside).toMatchObject({ code: 0, stdout: '"undefined"\n' });
  });

  it('says so clearly when an instance id is unknown or malformed', async () => {
    const unknown = await env.run(['shell', '-i', 'ffffffffffffffff', '-c', '1']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain('no running instance ffffffffffffffff in this cluster');
    const bad = await env.run(['shell', '-i', 'xyz', '-c', '1']);
    expect(bad.stderr).toContain('"xyz" is not an instance id');
  });

  it('lists svc.eval and svc.debug in svc.inspect only where they are on', async () => {
    const client = await env.client();
    try {
      const records = (await client.discover()).get('Greeting')!;
      const address = (id: string) => records.find((r) => r.id === id)!.endpoints['rpc']!;
      const on = await client.inspect('Greeting', { address: address(openId) });
      const off = await client.inspect('Greeting', { address: address(closedId) });
      expect(on.builtins.map((b) => b.name)).toEqual(
        expect.arrayContaining(['svc.eval', 'svc.debug']),
      );
      expect(off.builtins.map((b) => b.name)).not.toContain('svc.eval');
      expect(off.builtins.map((b) => b.name)).not.toContain('svc.debug');
    } finally {
      await client.close();
    }
  });
});

describe('svc shell --instance on stdin', () => {
  it('answers each input in order, continues an unfinished one, goes on after an error, and bounds what it holds', async () => {
    const r = await piped(
      ['--instance', openId],
      [
        'await services.Greeting.greet({',
        '  name: "Piped" })',
        'null.y',
        'process.pid',
        `"${'x'.repeat(70_000)}`,
        '40 + 2',
        '.exit',
        '"never"',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^svc shell inside instance [0-9a-f]{16} \(Greeting, pid \d+/);
    expect(lines[1]).toBe("'Hi, Piped!'");
    expect(lines[2]).toBe("Uncaught TypeError: Cannot read properties of null (reading 'y')");
    expect(lines[3]).toBe('    at svc-shell:1:6');
    expect(lines[4]).toBe(String(open.pid));
    // An input that never closes its string is dropped past the bound; the next one runs.
    expect(lines[5]).toBe('svc: an input of more than 65536 characters was dropped');
    expect(lines[6]).toBe('42');
    expect(r.stdout).not.toContain('never');
  });
});

describe('svc shell --instance in a real terminal', () => {
  it('completes the instance services and entrypoints, evaluates, and exits', async () => {
    const term = new Tmux();
    try {
      const vars = env.env();
      const pass = ['SVC_CLUSTER', 'SVC_LOCAL_REGISTRY_DIR', 'PATH', 'HOME']
        .map((k) => `${k}='${vars[k] ?? ''}'`)
        .join(' ');
      term.start(
        `env ${pass} NO_COLOR=1 TERM=xterm-256color ${process.execPath} ${SVC_BIN} shell --instance ${openId}; echo "svc exited $?"; sleep 60`,
        { cwd: TOUR, width: 160, height: 40 },
      );
      const prompt = `svc ${openId.slice(0, 8)}>`;
      await term.waitFor((s) => s.includes(prompt), 'the prompt');
      term.send('services.Gr', { literal: true });
      term.send('Tab');
      await term.waitFor((s) => s.includes(`${prompt} services.Greeting`), 'the service completed');
      term.send('.gr', { literal: true });
      term.send('Tab');
      await term.waitFor((s) => s.includes(`${prompt} services.Greeting.greet`), 'the entrypoint');
      // A promise the input gives back is awaited, as in svc shell -c.
      term.send('({ name: "Term" })', { literal: true });
      term.send('Enter');
      await term.waitFor((s) => s.includes("'Hi, Term!'"), 'the answer');
      term.send('null.z', { literal: true });
      term.send('Enter');
      await term.waitFor(
        (s) => s.includes("Uncaught TypeError: Cannot read properties of null (reading 'z')"),
        'the error',
      );
      term.send('.exit', { literal: true });
      term.send('Enter');
      await term.waitFor((s) => s.includes('svc exited 0'), 'the shell to exit');
    } finally {
      term.kill();
    }
  });
});

describe('svc debug', () => {
  it("opens the instance's inspector on 127.0.0.1; a CDP client evaluates in it; --close closes it", async () => {
    const r = await env.run(['debug', openId]);
    expect(r.code).toBe(0);
    const ws = /^WebSocket: (ws:\/\/127\.0\.0\.1:\d+\/[\w-]+)$/m.exec(r.stdout)?.[1];
    expect(ws, r.stdout).toBeDefined();
    expect(r.stdout).toContain(
      `DevTools:  devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${ws!.slice(5)}`,
    );
    expect(r.stdout).toContain(`close it with: svc debug ${openId} --close`);
    expect(await cdpEvaluate(ws!, 'process.pid')).toMatchObject({
      type: 'number',
      value: open.pid,
    });

    // Asked again, the same inspector answers.
    const again = await env.run(['debug', openId.slice(0, 8), '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ instance: openId, url: ws, opened: false });

    const close = await env.run(['debug', openId, '--close']);
    expect(close).toMatchObject({ code: 0 });
    expect(close.stdout).toContain(`closed the inspector of instance ${openId}`);
    await expect(cdpEvaluate(ws!, '1')).rejects.toThrow(/CDP client failed/);
    expect(open.child.exitCode).toBeNull();
  });

  it('refuses, naming the config key, where the config does not enable it', async () => {
    const r = await env.run(['debug', closedId]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `svc.debug is off in instance ${closedId} (Greeting): set "debug: { inspector: true }" in its config`,
    );
  });
});

describe('the dashboard', () => {
  it("opens an instance's inspector for the page (token required) and gives the shell command", async () => {
    const dashboard = env.spawn(['dashboard', '--port', '0'], { cwd: REPO });
    const address = /http:\/\/127\.0\.0\.1:\d+\/#token=\S+/;
    await dashboard.waitFor((p) => address.test(p.stdout), 'the dashboard URL');
    const [base, token] = address.exec(dashboard.stdout)![0].split('/#token=') as [string, string];
    const debug = (body: unknown, auth = `Bearer ${token}`) =>
      fetch(`${base}/api/debug`, {
        method: 'POST',
        headers: { Authorization: auth, 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      });
    try {
      expect((await debug({ instance: openId }, 'Bearer nope')).status).toBe(401);

      const opened = await debug({ instance: openId });
      expect(opened.status).toBe(200);
      const answer = (await opened.json()) as Record<string, unknown>;
      expect(answer).toMatchObject({
        instance: openId,
        shell: `svc shell --instance ${openId}`,
        pid: open.pid,
      });
      expect(answer['devtools']).toBe(
        `devtools://devtools/bundled/js_app.html?experiments=true&v8only=true&ws=${String(answer['url']).slice(5)}`,
      );
      expect(await cdpEvaluate(String(answer['url']), '6 * 7')).toMatchObject({ value: 42 });
      const closedAnswer = await debug({ instance: openId, close: true });
      expect(await closedAnswer.json()).toMatchObject({ closed: true, pid: open.pid });

      const refused = await debug({ instance: closedId });
      expect(refused.status).toBe(409);
      expect(((await refused.json()) as { error: string }).error).toContain(
        'set "debug: { inspector: true }" in its config',
      );
      expect((await debug({ instance: 'not hex' })).status).toBe(400);
    } finally {
      dashboard.child.kill('SIGTERM');
      await dashboard.exited;
    }
  });
});

describe('--help', () => {
  it('says how to turn each on and what is in scope', async () => {
    const shell = await env.run(['shell', '--help']);
    expect(shell.stdout).toContain('-i, --instance <id>');
    expect(shell.stdout).toContain('debug: { shell: true }');
    expect(shell.stdout).toContain('services.Greeting.greet');
    const debug = await env.run(['debug', '--help']);
    expect(debug.stdout).toContain('Usage: svc debug [options] <id>');
    expect(debug.stdout).toContain('debug: { inspector: true }');
    expect(debug.stdout).toContain('127.0.0.1');
  });
});
