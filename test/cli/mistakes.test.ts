// Mistakes and failures of `svc instance` and `svc tail`, with real processes:
// one clear line each, never the "unexpected error (a bug)" banner.
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, TOUR, TestEnv, requireBuild, type Proc } from '../support/svc.js';

const env = new TestEnv();

beforeAll(() => requireBuild());
afterAll(() => env.stop());

/** `proc`, stopped (SIGTERM, and waited for) when the test's `await using` ends. */
function stoppedAtEnd(proc: Proc): Proc & AsyncDisposable {
  return Object.assign(proc, {
    async [Symbol.asyncDispose]() {
      proc.child.kill('SIGTERM');
      await proc.exited;
    },
  });
}

/** The fixture Relay, whose greet calls a Greeting that is not running. */
async function relay(): Promise<Proc & AsyncDisposable> {
  return stoppedAtEnd(await env.instance('relay.yml', { cwd: `${FIXTURES}/unavailable` }));
}

/** A port nothing listens on right now. */
async function freePort(): Promise<number> {
  const free: Server = createServer();
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve));
  const { port } = free.address() as { port: number };
  await new Promise<void>((resolve) => free.close(() => resolve()));
  return port;
}

/**
 * `svc node ARGS` on a cluster file `name` (its path: `config`) running `numprocesses` of the
 * tour's Web with no socket: each process binds `port` (WEB_PORT) for itself.
 */
function webWithoutSocket(
  name: string,
  port: number,
  numprocesses: number,
  args: string[] = [],
): Proc & AsyncDisposable & { config: string } {
  const config = join(env.registryDir, name);
  writeFileSync(
    config,
    `instances:
  Web: { command: svc instance --config=conf/web.yml, numprocesses: ${numprocesses}, cwd: ${TOUR}, env: { WEB_PORT: '${port}' } }
`,
  );
  return Object.assign(stoppedAtEnd(env.spawn(['node', '--config', config, ...args])), { config });
}

describe('svc instance says what went wrong in one line', () => {
  it('for a port already in use: names the address and exits 2, registering nothing', async () => {
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    try {
      const { code, stdout, stderr } = await env.run(['instance', '--config', 'conf/web.yml'], {
        env: { WEB_PORT: String(port) },
      });
      expect(code).toBe(2);
      expect(stdout).toBe('');
      expect(stderr.trim()).toBe(
        `svc: cannot bind 127.0.0.1:${port}: EADDRINUSE (address already in use)`,
      );
      expect((await env.run(['discover'])).stdout).toBe('');
    } finally {
      taken.close();
    }
  });

  it('for a bind host this machine does not have: names it and exits 2', async () => {
    const { code, stderr } = await env.run(['instance', '--config', 'elsewhere.yml'], {
      cwd: `${FIXTURES}/echo`,
    });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(
      'svc: cannot bind 192.0.2.1:0: EADDRNOTAVAIL (address not available on this host)',
    );
  });

  it('for a service whose onStart throws: names the service and the error, exits 1, no bug banner', async () => {
    const { code, stdout, stderr } = await env.run(['instance', '--config', 'refuses.yml'], {
      cwd: `${FIXTURES}/refuses`,
    });
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe(
      'svc: Refuses: onStart failed: cannot reach the database at 127.0.0.1:1',
    );
  });
});

describe('svc node restart whose new process dies before it is ready', () => {
  it("says why, with the new process's last line, not only its exit code", async () => {
    // One Web on a fixed port and no socket: the restart's new process finds it taken.
    const port = await freePort();
    await using node = webWithoutSocket('restart.svc.yml', port, 1);
    await node.waitFor((p) => p.stderr.includes('running 1 processes'), 'the node to start');
    await node.waitFor((p) => `${p.stdout}${p.stderr}`.includes('started Web'), 'Web to start');
    const { code, stderr } = await env.run(['node', 'restart', '--config', node.config, 'Web']);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(
      new RegExp(
        `^svc: restart of Web failed: Web\\.0: the new process \\(pid \\d+\\) exited with code 2 before it was ready; it said: svc: cannot bind 127\\.0\\.0\\.1:${port}: EADDRINUSE \\(address already in use\\); under svc node, give Web a socket`,
      ),
    );
  });
});

describe('svc node outside the folder of its .svc.yml', () => {
  it('says there is none here, and where the nearest one above is: exit 2', async () => {
    const { code, stdout, stderr } = await env.run(['node'], { cwd: join(TOUR, 'services') });
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe(
      `svc: no .svc.yml in ${join(TOUR, 'services')}; there is one in ${TOUR}: run svc node there, or pass --config ../.svc.yml`,
    );
  });

  it('says there is none, and how to name one, where no folder above has one', async () => {
    const { code, stderr } = await env.run(['node'], { cwd: env.registryDir });
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(
      `svc: no .svc.yml in ${env.registryDir}: svc node runs the cluster that file lists (see svc node --help); run it in the project's folder, or pass --config FILE`,
    );
  });
});

describe('svc node with an HTTP instance that has no socket of its own', () => {
  it('says, from the process that cannot bind the port, to give the instance a socket', async () => {
    // Each process of Web binds WEB_PORT for itself: the second finds it taken by the first
    // (as would a restart's new process, started before the old one stops).
    const port = await freePort();
    await using node = webWithoutSocket('nosocket.svc.yml', port, 2, ['--max-crashes', '1']);
    const hint =
      `svc: cannot bind 127.0.0.1:${port}: EADDRINUSE (address already in use); under svc node, ` +
      `give Web a socket in .svc.yml (sockets: { Web: { port: ${port} } }): every process of it, ` +
      `and a restart's new one, then shares the port`;
    await node.waitFor((p) => `${p.stdout}${p.stderr}`.includes(hint), 'the hint');
    expect(`${node.stdout}${node.stderr}`).not.toMatch(/\n\s+at /);
  });
});

describe('svc request of a service that is not running', () => {
  it('names the services that are, for a name nothing runs under (a typo): exit 2', async () => {
    await using _relay = await relay();
    const { code, stdout, stderr } = await env.run(['request', 'Rlay.greet', '{"name":"x"}']);
    expect(code).toBe(2);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe('svc: no live instance of service "Rlay" (running: Relay)');
  });

  it('says the method it called failed, exit 1, when what is not running is a service that method calls', async () => {
    // Relay runs; the Greeting it calls does not. The command line was right: Relay failed.
    await using _relay = await relay();
    const { code, stdout, stderr } = await env.run(['request', 'Relay.greet', '{"name":"x"}']);
    expect(code).toBe(1);
    expect(stdout).toBe('');
    expect(stderr.trim()).toBe(
      'svc: remote error UnknownServiceError (SVC_ERR_UNKNOWN_SERVICE): no live instance of service "Greeting"',
    );
  });

  it('svc shell -c says the same of a method whose own call finds no instance', async () => {
    await using _relay = await relay();
    const { code, stderr } = await env.run(['shell', '-c', 'await rpc.Relay.greet({ name: "x" })']);
    expect(code).toBe(1);
    expect(stderr.trim()).toBe(
      'svc: remote error UnknownServiceError (SVC_ERR_UNKNOWN_SERVICE): no live instance of service "Greeting"',
    );
  });

  it('svc top --once says no service runs, rather than print empty tables', async () => {
    const { code, stdout, stderr } = await env.run(['top', '--once', '--window', '100']);
    expect(code).toBe(0);
    expect(stdout).toBe('');
    expect(stderr).toBe('no services are running in this cluster\n');
  });

  it('says no service runs at all in an empty cluster', async () => {
    const { code, stderr } = await env.run(['request', 'Greeting.greet', '{"name":"x"}']);
    expect(code).toBe(2);
    expect(stderr.trim()).toBe(
      'svc: no live instance of service "Greeting" (no service is running in this cluster)',
    );
  });
});

describe('svc tail --trace of a trace no instance holds', () => {
  it('says so, and keeps following for records of it', async () => {
    const echo = await env.instance('echo.yml', { cwd: `${FIXTURES}/echo` });
    const tail = env.spawn(['tail', '--trace', 'feedfacefeedface']);
    await tail.waitFor(
      (p) =>
        p.stderr.includes(
          'svc tail: no running instance holds a record of trace "feedfacefeedface"; waiting for new ones',
        ),
      'the notice',
    );
    expect(tail.child.exitCode).toBeNull();
    tail.child.kill('SIGINT');
    expect((await tail.exited).code).toBe(0);
    echo.child.kill('SIGTERM');
    expect((await echo.exited).code).toBe(0);
  });
});
