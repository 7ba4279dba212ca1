// The lymph tour on the embedded defaults: real `svc instance` processes
// driven by the real `svc` binary and real HTTP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TestEnv, ownInterface, requireBuild, type Proc } from '../support/svc.js';
import type { Greeting } from '../../examples/lymph-tour/services/greeting.js';

const env = new TestEnv();
let greeting: Proc[];
let listen: Proc[];
let web: Proc;
let webUrl: string;

beforeAll(async () => {
  requireBuild();
  [greeting, listen, web] = await Promise.all([
    Promise.all([env.instance('conf/greeting.yml'), env.instance('conf/greeting.yml')]),
    Promise.all([env.instance('conf/listen.yml'), env.instance('conf/listen.yml')]),
    env.instance('conf/web.yml', { env: { WEB_PORT: '0' } }),
  ]);
  const started = web.logs().find((l) => l.msg.startsWith('started Web'))!;
  webUrl = /http (http:\/\/[^\s,)]+)/.exec(started.msg)![1]!;
}, 60_000);

afterAll(() => env.stop());

describe('the lymph tour with svc', () => {
  it('discovers every service with its instance count', async () => {
    const { code, stdout } = await env.run(['discover']);
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual(['Greeting [2]', 'Listen [2]', 'Web [1]']);
    const detailed = await env.run(['discover', '--instances']);
    expect(detailed.stdout).toMatch(
      new RegExp(`pid ${greeting[0]!.pid} .* rpc=tcp://127\\.0\\.0\\.1:\\d+`),
    );
    const json = JSON.parse((await env.run(['discover', '--json'])).stdout) as Record<
      string,
      Array<{ pid: number }>
    >;
    expect(json['Greeting']!.map((r) => r.pid).sort()).toEqual(greeting.map((p) => p.pid).sort());
  });

  it('inspects the RPC interface, built-ins included', async () => {
    const { code, stdout } = await env.run(['inspect', 'Greeting']);
    expect(code).toBe(0);
    for (const builtin of [
      'svc.get_metrics()',
      'svc.inspect()',
      'svc.ping(payload?: any)',
      'svc.status()',
    ]) {
      expect(stdout).toContain(`rpc ${builtin}`);
    }
  });

  it("inspects each service's docs as its source writes them", async () => {
    const inspect = async (service: string) =>
      ownInterface((await env.run(['inspect', service])).stdout);
    expect(await inspect('Greeting')).toEqual([
      'RPC interface of Greeting',
      '',
      'rpc Greeting.greet(name: string)',
      '    Returns a greeting for a provided name',
      '    - name: who to greet',
    ]);
    expect(await inspect('Listen')).toEqual([
      'RPC interface of Listen',
      '',
      '',
      'Events handled',
      'event greeted -> Listen.onGreeted (pool)',
      '    Prints the name of everybody who was greeted',
    ]);
    expect(await inspect('Web')).toEqual([
      'RPC interface of Web',
      '',
      '',
      'HTTP routes',
      'http GET /greet -> Web.greet',
      '    handles /greet?name=<name>',
    ]);
  });

  it('greets on request, round-robin over both Greeting instances, and Listen hears each once', async () => {
    const first = await env.run(['request', 'Greeting.greet', '{"name": "Flynne"}']);
    expect(first).toMatchObject({ code: 0, stdout: "'Hi, Flynne!'\n" });
    const json = await env.run(['request', '--json', 'Greeting.greet', '{"name": "Flynne"}']);
    expect(json.stdout).toBe('"Hi, Flynne!"\n');
    // Each CLI process starts its round-robin at a random instance; one client shows the turn-taking.
    const client = await env.client<{ Greeting: Greeting }>();
    try {
      for (let i = 0; i < 4; i++) await client.rpc.Greeting.greet({ name: `rr${i}` });
    } finally {
      await client.close();
    }
    // Records reach stderr in batches (within 10 ms): wait for all four.
    const answered = () =>
      greeting.map((p) => p.logs().filter((l) => l.msg.startsWith('Saying hi to rr')).length);
    await expect.poll(() => answered().reduce((a, b) => a + b)).toBe(4);
    expect(answered().every((n) => n > 0)).toBe(true);
    await expect
      .poll(
        () =>
          listen.flatMap((p) => p.logs()).filter((l) => l.msg.startsWith('Somebody greeted rr'))
            .length,
      )
      .toBe(4);
  });

  it('delivers an emitted event to exactly one Listen instance, spreading them', async () => {
    expect((await env.run(['emit', 'greeted', '{"name": "single-cli"}'])).code).toBe(0);
    const client = await env.client();
    try {
      for (let i = 1; i < 6; i++) await client.emit('greeted', { name: `single${i}` });
    } finally {
      await client.close();
    }
    const count = () =>
      listen.map((p) => p.logs().filter((l) => l.msg.startsWith('Somebody greeted single')).length);
    await expect.poll(() => count().reduce((a, b) => a + b)).toBe(6);
    await new Promise((r) => setTimeout(r, 300));
    expect(count().reduce((a, b) => a + b)).toBe(6);
    expect(count().every((n) => n > 0)).toBe(true);
  });

  it('delivers a delayed event after its delay', async () => {
    const sent = Date.now();
    expect((await env.run(['emit', 'greeted', '{"name": "later"}', '--delay', '1500'])).code).toBe(
      0,
    );
    await expect
      .poll(() => listen.flatMap((p) => p.logs()).find((l) => l.msg === 'Somebody greeted later'), {
        timeout: 6000,
      })
      .toBeDefined();
    const at = listen
      .flatMap((p) => p.logs())
      .find((l) => l.msg === 'Somebody greeted later')!.time;
    expect(at - sent).toBeGreaterThanOrEqual(1400);
  });

  it('answers HTTP with X-Trace-Id, and the same trace id is on the log lines of all three services', async () => {
    const res = await fetch(`${webUrl}/greet?name=Flynne`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await res.text()).toBe('Hi, Flynne!');
    const traceId = res.headers.get('x-trace-id')!;
    expect(traceId).toMatch(/^[0-9a-f]{32}$/);
    const withTrace = (procs: Proc[]) =>
      procs
        .flatMap((p) => p.logs())
        .filter((l) => l.traceId === traceId)
        .map((l) => l.msg);
    await expect.poll(() => withTrace(listen)).toContain('Somebody greeted Flynne');
    await expect.poll(() => withTrace([web])).toContain('About to greet Flynne');
    await expect.poll(() => withTrace(greeting)).toContain('Saying hi to Flynne');
  });

  it('answers malformed HTTP requests with a 4xx that says why', async () => {
    const missing = await fetch(`${webUrl}/greet`);
    expect(missing.status).toBe(400);
    expect(await missing.json()).toMatchObject({ error: 'query parameter "name" is required' });
    const unknown = await fetch(`${webUrl}/nowhere`);
    expect(unknown.status).toBe(404);
    const wrongMethod = await fetch(`${webUrl}/greet?name=x`, { method: 'POST' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
  });

  it('prints events as they arrive with svc subscribe', async () => {
    const sub = env.spawn(['subscribe', 'greeted', 'other']);
    await sub.waitFor(
      (p) => p.stderr.includes('listening for greeted, other'),
      'subscribe to listen',
    );
    await env.run(['emit', 'greeted', '{"name": "Sub"}']);
    await env.run(['emit', 'other', '[1, 2]']);
    await sub.waitFor(
      (p) => p.stdout.includes('"name":"Sub"') && p.stdout.includes('[1,2]'),
      'both events',
    );
    expect(sub.stdout).toMatch(/greeted from svc-cli \[[0-9a-f]{10}\] \{"name":"Sub"\}/);
    sub.child.kill('SIGINT');
    expect((await sub.exited).code).toBe(0);
  });

  it('prints the resolved config with svc config', async () => {
    const { code, stdout } = await env.run(['config', 'conf/web.yml'], {
      env: { WEB_PORT: '4321' },
    });
    expect(code).toBe(0);
    expect(stdout).toContain('port: 4321');
    expect(stdout).toContain('registry: local');
    // The interface's options appear twice (resolved, and in the document): written out both times.
    expect(stdout).not.toMatch(/[&*]a\d/);
    expect(stdout.match(/^ +class: \.\.\/services\/web\.ts#Web$/gm)).toHaveLength(3);
  });

  it('lists its commands and shows help for each', async () => {
    const list = await env.run(['list']);
    for (const cmd of [
      'instance',
      'request',
      'emit',
      'subscribe',
      'discover',
      'inspect',
      'config',
      'node',
      'list',
      'tail',
      'top',
      'shell',
      'help',
    ]) {
      expect(list.stdout).toMatch(new RegExp(`^${cmd}\\s+\\S`, 'm'));
    }
    const help = await env.run(['help', 'request']);
    expect(help.stdout).toContain('Usage: svc request [options] <Service.method> [params]');
    expect((await env.run(['emit', '--help'])).stdout).toContain('--delay <ms>');
  });
});

describe('bad input gets one clear line and a non-zero exit', () => {
  const cases: Array<[string, string[], RegExp]> = [
    [
      'bad JSON',
      ['request', 'Greeting.greet', '{name: x}'],
      /^svc: params is not valid JSON .*: \{name: x\}$/,
    ],
    [
      'params that are not an object',
      ['request', 'Greeting.greet', '[1]'],
      /^svc: params must be a JSON object/,
    ],
    [
      'an unknown service',
      ['request', 'Nobody.greet', '{}'],
      /^svc: no live instance of service "Nobody" \(running: Greeting, Listen, Web\)$/,
    ],
    [
      'a misspelled service, for svc inspect',
      ['inspect', 'Greting'],
      /^svc: no live instance of service "Greting" \(running: Greeting, Listen, Web\)$/,
    ],
    [
      'an unknown method',
      ['request', 'Greeting.nope', '{}'],
      /^svc: Greeting has no RPC method "nope"$/,
    ],
    ['a target without a method', ['request', 'Greeting', '{}'], /^svc: expected Service\.method/],
    [
      'a missing config file',
      ['instance', '--config', 'conf/nope.yml'],
      /^svc: config file .*conf\/nope\.yml does not exist$/,
    ],
    ['an unknown command', ['frobnicate'], /^error: unknown command 'frobnicate'$/],
    ['help for an unknown command', ['help', 'frobnicate'], /^svc: no command "frobnicate"/],
    [
      'params without a declared parameter',
      ['request', 'Greeting.greet', '{}'],
      /^svc: invalid parameters for Greeting\.greet: name is required$/,
    ],
    [
      'a service that runs nowhere, for svc top',
      ['top', 'Nobody', '--once'],
      /^svc: no running instance of "Nobody" \(running: Greeting, Listen, Web\)$/,
    ],
    [
      'a trace id no instance holds, for svc tail',
      ['tail', '--trace', '0123456789abcdef', '--no-follow'],
      /^svc: no running instance holds a record of trace "0123456789abcdef"$/,
    ],
    ['a bad delay', ['emit', 'greeted', '{}', '--delay', 'soon'], /argument 'soon' is invalid/],
  ];
  for (const [what, args, message] of cases) {
    it(`for ${what}`, async () => {
      const { code, stderr, stdout } = await env.run(args);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim().split('\n')).toHaveLength(1);
      expect(stderr.trim()).toMatch(message);
      expect(stderr).not.toMatch(/\n\s+at /);
    });
  }

  it('for a remote error: its type and message, exit 1', async () => {
    const echo = await env.instance('echo.yml', { cwd: `${FIXTURES}/echo` });
    const { code, stderr } = await env.run(['request', 'Echo.fail']);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe('svc: remote error RangeError: echo failed on purpose');
    echo.child.kill('SIGTERM');
    expect((await echo.exited).code).toBe(0);
  });
});
