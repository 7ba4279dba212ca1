// svc top and svc shell against a real cluster of `svc instance` processes,
// as plain text (--once, -c) and in a real terminal (tmux).
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SVC_BIN, TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';
import { Tmux } from '../support/tmux.js';
import type { Greeting } from '../../examples/lymph-tour/services/greeting.js';

const env = new TestEnv();
let procs: Proc[];
let listen: Proc;

beforeAll(async () => {
  requireBuild();
  procs = await Promise.all([
    env.instance('conf/greeting.yml'),
    env.instance('conf/greeting.yml'),
    env.instance('conf/listen.yml'),
  ]);
  listen = procs[2]!;
}, 60_000);

afterAll(() => env.stop());

interface TopRow {
  service: string;
  pid: number;
  cells: string[];
}

/** The instance rows of `svc top --once` (the first table). */
function instanceRows(text: string): TopRow[] {
  const [first] = text.split('\n\n');
  return first!
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const cells = l.trim().split(/\s+/);
      return { service: cells[0]!, pid: Number(cells[2]), cells };
    });
}

function entrypointCalls(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.trim().split(/\s+/)[5]) : undefined;
}

/** A shell command line running `svc ARGS` in the test's cluster. */
function svcCommand(args: string): string {
  const vars = env.env({ SVC_LOG_FORMAT: 'pretty' });
  const pass = ['SVC_CLUSTER', 'SVC_LOCAL_REGISTRY_DIR', 'PATH', 'HOME']
    .map((k) => `${k}='${vars[k] ?? ''}'`)
    .join(' ');
  return `env ${pass} TERM=xterm-256color ${process.execPath} ${SVC_BIN} ${args}; echo "svc exited $?"; sleep 60`;
}

describe('svc top --once', () => {
  it('lists every instance with plausible figures that move under load', async () => {
    const before = await env.run(['top', '--once', '--window', '300']);
    expect(before.code).toBe(0);
    const rows = instanceRows(before.stdout);
    expect(rows.map((r) => r.pid).sort()).toEqual(procs.map((p) => p.pid).sort());
    expect(rows.map((r) => r.service).sort()).toEqual(['Greeting', 'Greeting', 'Listen']);
    for (const r of rows) {
      const [, , , uptime, cpu, rss, lag] = r.cells;
      expect(uptime).toMatch(/^\d+(s|m\d\ds)$/);
      expect(Number(cpu)).toBeGreaterThanOrEqual(0);
      expect(rss).toMatch(/^\d+\.\dM$/);
      expect(Number(rss!.slice(0, -1))).toBeGreaterThan(10);
      expect(Number(lag)).toBeGreaterThanOrEqual(0);
    }
    const callsBefore = entrypointCalls(before.stdout, 'Greeting.greet') ?? 0;

    // Load during the sampling window: rates and counts go up.
    const client = await env.client<{ Greeting: Greeting }>();
    try {
      let stop = false;
      const load = (async () => {
        let n = 0;
        while (!stop) await client.rpc.Greeting.greet({ name: `load${n++}` });
        return n;
      })();
      const during = await env.run(['top', '--once', '--window', '1000']);
      stop = true;
      const sent = await load;
      expect(during.code).toBe(0);
      expect(entrypointCalls(during.stdout, 'Greeting.greet')).toBeGreaterThan(callsBefore);
      expect(sent).toBeGreaterThan(0);
      const greetings = instanceRows(during.stdout).filter((r) => r.service === 'Greeting');
      const rate = greetings.reduce((sum, r) => sum + Number(r.cells[7]), 0);
      expect(rate).toBeGreaterThan(0);
      const line = during.stdout.split('\n').find((l) => l.startsWith('Greeting.greet '))!;
      expect(line).toMatch(/^Greeting\.greet +rpc +2 +\d+\.\d/);
      expect(line).toContain('Greeting.greet');
      expect(during.stdout).toContain('Listen.onGreeted');
    } finally {
      await client.close();
    }
  });

  it('refuses to draw the dashboard without a terminal', async () => {
    const r = await env.run(['top']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim()).toBe(
      'svc: svc top needs a terminal; use svc top --once for plain text',
    );
  });
});

describe('svc shell -c', () => {
  it('makes an RPC and prints its result as JSON', async () => {
    const r = await env.run(['shell', '-c', 'await rpc.Greeting.greet({ name: "John" })']);
    expect(r).toMatchObject({ code: 0, stdout: '"Hi, John!"\n' });
    const d = await env.run(['shell', '-c', 'Object.keys(await discover())']);
    expect(JSON.parse(d.stdout)).toEqual(['Greeting', 'Listen']);
  });

  it('emits an event that a subscriber receives', async () => {
    const r = await env.run(['shell', '-c', 'await emit("greeted", { name: "Shelly" })']);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    await listen.waitFor(
      (p) => p.hasLog((l) => l.msg === 'Somebody greeted Shelly'),
      'Listen to receive the event',
    );
  });

  it('reports a remote error and exits non-zero; a broken expression too', async () => {
    const r = await env.run(['shell', '-c', 'await rpc.Greeting.nope()']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Greeting has no RPC method "nope"');
    const typo = await env.run(['shell', '-c', 'await rpc.Greeting.greet(']);
    expect(typo.code).toBe(1);
    expect(typo.stderr).toMatch(/^svc shell: SyntaxError: /);
  });
});

describe('svc shell on stdin', () => {
  it('answers piped inputs one after the other, in order, before it closes the connection', async () => {
    // `printf '...' | svc shell`: every input is answered, in the order given, even the
    // last ones that are still waiting on the cluster when the input ends.
    const child = spawn(process.execPath, [SVC_BIN, 'shell'], {
      cwd: TOUR,
      env: env.env({ NO_COLOR: '1' }),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdin.end(
      [
        'await rpc.Greeting.greet({ name: "Piped" })',
        'const n = 21',
        'await emit("greeted", { name: "Piper" })',
        'await rpc.Greeting.greet({',
        '  name: "Two lines" })',
        'await rpc.Greeting.nope()',
        'n * 2',
        'await rpc.Greeting.greet({ name: "Last" })',
      ].join('\n'),
    );
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    clearTimeout(timer);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const answers = stdout
      .split('\n')
      .slice(1)
      // The REPL's prompts: its continuation prompt is `... ` before Node.js 24, `| ` since.
      .map((l) => l.replace(/^(svc> |\.\.\. |\| )+/, ''))
      .filter((l) => l.trim() !== '');
    expect(answers).toEqual([
      "'Hi, Piped!'",
      "'Hi, Two lines!'",
      'Uncaught [MethodNotFoundError: Greeting has no RPC method "nope"] {',
      "  code: 'SVC_ERR_METHOD_NOT_FOUND',",
      "  data: { service: 'Greeting', method: 'nope' }",
      '}',
      '42',
      "'Hi, Last!'",
    ]);
    await listen.waitFor(
      (p) => p.hasLog((l) => l.msg === 'Somebody greeted Piper'),
      'Listen to receive the piped event',
    );
  });
});

describe('in a real terminal', () => {
  it('svc top shows every instance, switches views, sorts, and q restores the terminal', async () => {
    const term = new Tmux();
    try {
      term.start(svcCommand('top'), { cwd: TOUR, width: 160, height: 30 });
      const pids = procs.map((p) => String(p.pid));
      let screen = await term.waitFor(
        (s) => pids.every((pid) => s.includes(pid)),
        'a row for every instance',
      );
      expect(screen).toContain('svc top');
      expect(screen).toContain('SERVICE▲');
      expect(screen).toMatch(/Tab: instances\/entrypoints/);

      await env.run(['request', 'Greeting.greet', '{"name": "top"}']);
      term.send('Tab');
      screen = await term.waitFor(
        (s) => s.includes('ENTRYPOINT') && s.includes('Greeting.greet'),
        'the entrypoint view',
      );
      expect(screen).toContain('entrypoints view');

      term.send('Tab');
      term.send('3'); // sort by PID
      screen = await term.waitFor((s) => s.includes('▼PID'), 'sorting by PID');
      const shown = pids
        .map((pid) => ({ pid: Number(pid), at: screen.indexOf(` ${pid} `) }))
        .sort((a, b) => a.at - b.at)
        .map((x) => x.pid);
      expect(shown).toEqual([...shown].sort((a, b) => b - a));

      // An instance that starts shows up, and one that stops leaves, within a refresh.
      const extra = await env.instance('conf/listen.yml');
      await term.waitFor((s) => s.includes(` ${extra.pid} `), 'the new instance to show');
      extra.child.kill('SIGTERM');
      await extra.exited;
      await term.waitFor((s) => !s.includes(` ${extra.pid} `), 'the stopped instance to vanish');

      term.send('q');
      screen = await term.waitFor((s) => s.includes('svc exited 0'), 'top to exit');
      expect(screen).not.toContain('SERVICE');
    } finally {
      term.kill();
    }
  });

  it('svc shell completes names, calls, survives a remote error, and exits', async () => {
    const term = new Tmux();
    try {
      term.start(svcCommand('shell'), { cwd: TOUR, width: 160, height: 40 });
      await term.waitFor((s) => s.includes('svc>'), 'the prompt');
      term.send('rpc.Gre', { literal: true });
      term.send('Tab');
      await term.waitFor((s) => s.includes('svc> rpc.Greeting'), 'the service name completed');
      term.send('.gr', { literal: true });
      term.send('Tab');
      await term.waitFor((s) => s.includes('svc> rpc.Greeting.greet'), 'the method completed');
      term.send('C-u');
      term.send('await rpc.Greeting.nope()', { literal: true });
      term.send('Enter');
      await term.waitFor((s) => s.includes('has no RPC method "nope"'), 'the remote error');
      term.send('await rpc.Greeting.greet({ name: "Ann" })', { literal: true });
      term.send('Enter');
      await term.waitFor((s) => s.includes("'Hi, Ann!'"), 'the reply after the error');
      term.send('.exit', { literal: true });
      term.send('Enter');
      await term.waitFor((s) => s.includes('svc exited 0'), 'the shell to exit');
    } finally {
      term.kill();
    }
  });
});
