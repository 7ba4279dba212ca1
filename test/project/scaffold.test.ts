// A project of one's own, as a user gets it: the workspace packages packed as
// they would be published, `svc new` into a folder outside the repository,
// the tarballs installed there with npm, and the project's own test, type
// check (typed calls from the installed declarations), cluster, `svc request`
// and HTTP route used as its README says.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Proc, REPO, SVC_BIN, requireBuild } from '../support/svc.js';

interface Packed {
  name: string;
  version: string;
  filename: string;
  files: Array<{ path: string }>;
}

interface Manifest {
  name: string;
  version: string;
  license?: string;
  engines?: Record<string, string>;
  bin?: Record<string, string>;
  types?: string;
  exports?: Record<string, Record<string, string>>;
  publishConfig?: Record<string, unknown>;
  dependencies?: Record<string, string>;
}

const cluster = `t${randomBytes(4).toString('hex')}`;
let work = '';
let app = '';
let registryDir = '';
let packed: Packed[] = [];
/** the package.json `svc new` wrote, before the test points it at the tarballs */
let scaffolded: { dependencies?: Record<string, string> } = {};
const procs = new Set<Proc>();
/** processes started as leaders of a process group of their own */
const groups = new WeakSet<Proc>();

/**
 * The environment of a user's shell: none of the variables the test runner,
 * pnpm or npm set for this repository, and none of its `node_modules/.bin`.
 */
function userEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(npm_|pnpm_|VITEST|SVC_|NODE_OPTIONS$|NODE_ENV$|TEST$|INIT_CWD$)/i.test(key)) continue;
    env[key] = value;
  }
  env['PATH'] = (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter((dir) => !dir.startsWith(REPO))
    .join(delimiter);
  return {
    ...env,
    SVC_CLUSTER: cluster,
    SVC_LOCAL_REGISTRY_DIR: registryDir,
    NO_COLOR: '1',
    ...extra,
  };
}

function start(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; detached?: boolean } = {},
): Proc {
  const proc = new Proc(
    spawn(command, args, {
      cwd: options.cwd ?? app,
      env: userEnv(options.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: options.detached ?? false,
    }),
  );
  procs.add(proc);
  if (options.detached) groups.add(proc);
  void proc.exited.then(() => procs.delete(proc));
  return proc;
}

/** Runs a command to its end (killed after `timeoutMs`); rejects when it cannot be started. */
function run(
  command: string,
  args: string[],
  options: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = start(command, args, options);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), options.timeoutMs ?? 60_000);
    proc.child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command} in ${options.cwd ?? app}: ${err.message}`));
    });
    void proc.exited.then(({ code }) => {
      clearTimeout(timer);
      resolve({ code, stdout: proc.stdout, stderr: proc.stderr });
    });
  });
}

function ok(result: { code: number | null; stdout: string; stderr: string }, what: string): string {
  if (result.code !== 0) {
    throw new Error(`${what} exited ${result.code}:\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

const installed = (name: string): string => join(app, 'node_modules', name);
const manifestOf = (dir: string): Manifest =>
  JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

beforeAll(async () => {
  requireBuild();
  work = mkdtempSync(join(tmpdir(), 'svc-scaffold-'));
  app = join(work, 'app');
  registryDir = join(work, 'registry');
  mkdirSync(registryDir);
  // Every workspace package, packed as `pnpm publish` would pack it.
  const pnpm = join(REPO, 'node_modules/.bin/pnpm');
  const pack = await run(
    pnpm,
    ['-r', '--filter', './packages/*', 'pack', '--json', '--pack-destination', join(work, 'tgz')],
    { cwd: REPO },
  );
  packed = JSON.parse(ok(pack, 'pnpm pack')) as Packed[];

  // The project as `npm run new-project` makes it: svc's packages from the
  // tarballs rather than the registry, copied into vendor/.
  ok(
    await run(
      process.execPath,
      [SVC_BIN, 'new', app, '--name', 'scaffold-app', '--packages', join(work, 'tgz')],
      { cwd: work },
    ),
    'svc new',
  );
  const pkgFile = join(app, 'package.json');
  scaffolded = JSON.parse(readFileSync(pkgFile, 'utf8')) as typeof scaffolded;
  expect(Object.keys(scaffolded.dependencies ?? {}).sort()).toEqual(['@svc/cli', '@svc/core']);

  // npm's own cache (shared between runs) makes a second install quick.
  ok(
    await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline'], {
      timeoutMs: 240_000,
    }),
    'npm install',
  );
}, 300_000);

afterAll(async () => {
  for (const p of procs) await stop(p);
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a project made by svc new, outside the repository', () => {
  it('installs tarballs whose manifests resolve: exports, types, bin, versions, license', () => {
    expect(packed.map((p) => p.name).sort()).toEqual(
      expect.arrayContaining(['@svc/cli', '@svc/core', '@svc/dashboard', '@svc/node', '@svc/tail']),
    );
    // The dashboard's page is built into its package and served from there (no CDN).
    const dashboard = packed.find((p) => p.name === '@svc/dashboard')!;
    expect(dashboard.files.map((f) => f.path)).toEqual(
      expect.arrayContaining(['dist/web/index.html', 'dist/web/app.js', 'dist/web/app.css']),
    );
    for (const p of packed) {
      const dir = installed(p.name);
      const shipped = new Set(p.files.map((f) => f.path));
      const manifest = manifestOf(dir);
      const workspace = manifestOf(join(REPO, 'packages', p.name.replace('@svc/', '')));
      expect(manifest.version).toBe(workspace.version);
      expect(manifest.license).toBe('MIT');
      expect(manifest.engines?.['node']).toBe(workspace.engines?.['node']);
      expect(manifest.engines?.['node']).toMatch(/\b20\b/);
      expect(manifest.publishConfig).toEqual({ access: 'public' });
      for (const file of ['LICENSE', 'README.md', 'package.json']) expect(shipped).toContain(file);
      const tests = [...shipped].filter((f) => /^(src|dist)\/.*\.test\.[jt]s$/.test(f));
      expect(tests, `${p.name} ships no tests of its own`).toEqual([]);
      // Every subpath the repository exports is published, without the
      // `source` condition (the repository's own), and every target is in the tarball.
      expect(Object.keys(manifest.exports ?? {})).toEqual(Object.keys(workspace.exports ?? {}));
      const targets = [
        manifest.types,
        ...Object.values(manifest.bin ?? {}),
        ...Object.values(manifest.exports ?? {}).flatMap((conditions) => {
          expect(conditions, p.name).not.toHaveProperty('source');
          return Object.values(conditions);
        }),
      ].filter((t) => t !== undefined);
      expect(targets.length, `${p.name} has an entry point`).toBeGreaterThan(0);
      for (const target of targets) {
        expect(target, `${p.name}: ${target}`).toMatch(/^\.\//);
        expect(shipped, `${p.name} ships ${target}`).toContain(target.slice(2));
      }
      // workspace:* became the version of the package depended on.
      for (const [dep, range] of Object.entries(manifest.dependencies ?? {})) {
        expect(range, `${p.name} -> ${dep}`).not.toMatch(/^workspace:/);
        const sibling = packed.find((x) => x.name === dep);
        if (sibling) expect(range, `${p.name} -> ${dep}`).toBe(sibling.version);
      }
    }
  });

  it('resolves every svc package to its tarball, with one copy of @svc/core', () => {
    const lock = JSON.parse(readFileSync(join(app, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { resolved?: string }>;
    };
    const svcEntries = Object.entries(lock.packages).filter(([path]) => path.includes('@svc/'));
    expect(svcEntries.map(([path]) => path).sort()).toEqual(
      packed.map((p) => `node_modules/${p.name}`).sort(),
    );
    for (const [path, entry] of svcEntries) expect(entry.resolved, path).toMatch(/^file:.*\.tgz$/);
    expect(existsSync(join(installed('@svc/cli'), 'node_modules/@svc'))).toBe(false);
  });

  it('writes a project that depends on svc at the version of the CLI, and svc --version says it', async () => {
    const cliVersion = manifestOf(join(REPO, 'packages/cli')).version;
    // From the tarballs of this version (the registry's would be `^${cliVersion}`: new.test.ts).
    expect(scaffolded.dependencies).toEqual({
      '@svc/cli': `file:vendor/svc-cli-${cliVersion}.tgz`,
      '@svc/core': `file:vendor/svc-core-${cliVersion}.tgz`,
    });
    const version = ok(
      await run(join(app, 'node_modules/.bin/svc'), ['--version']),
      'svc --version',
    );
    expect(version.trim()).toBe(cliVersion);
  });

  it("passes its own npm test: the strict type check and the test kit's tests", async () => {
    const out = ok(await run('npm', ['test'], { timeoutMs: 120_000 }), 'npm test');
    expect(out).toMatch(/Tests\s+\d+ passed/);
  }, 150_000);

  it('types its calls from the installed packages: svc check finds a misspelled method and wrong parameters', async () => {
    const svc = join(app, 'node_modules/.bin/svc');
    const file = join(app, 'services/web.ts');
    const source = readFileSync(file, 'utf8');
    const call = 'this.rpc.Greeting.greet({ name })';
    expect(source).toContain(call);
    try {
      writeFileSync(file, source.replace(call, 'this.rpc.Greeting.gret({ name })'));
      const misspelled = await run(svc, ['check'], { timeoutMs: 120_000 });
      expect(misspelled.code, misspelled.stderr).toBe(1);
      expect(misspelled.stdout).toMatch(
        /^services\/web\.ts:\d+:\d+: error TS2551: Property 'gret' does not exist on type .*Did you mean 'greet'\?$/m,
      );
      writeFileSync(file, source.replace(call, 'this.rpc.Greeting.greet({ name: 5 })'));
      const wrong = await run(svc, ['check'], { timeoutMs: 120_000 });
      expect(wrong.code, wrong.stderr).toBe(1);
      expect(wrong.stdout).toMatch(
        /^services\/web\.ts:\d+:\d+: error TS2322: Type 'number' is not assignable to type 'string'\.$/m,
      );
    } finally {
      writeFileSync(file, source);
    }
    const clean = await run(svc, ['check'], { timeoutMs: 120_000 });
    expect(clean.code, clean.stdout + clean.stderr).toBe(0);
  }, 300_000);

  it('runs its cluster under svc node, and answers svc request and HTTP', async () => {
    // WEB_PORT=0: the supervisor binds a free port, and `svc node status` says which.
    const svc = join(app, 'node_modules/.bin/svc');
    const node = start(svc, ['node'], { env: { WEB_PORT: '0' }, detached: true });
    try {
      const deadline = Date.now() + 60_000;
      let seen = '';
      while ((seen = (await run(svc, ['discover'])).stdout.trim()) !== 'Greeting [2]\nWeb [2]') {
        if (Date.now() > deadline || node.child.exitCode !== null)
          throw new Error(`the cluster did not come up: ${seen}\n${node.stdout}\n${node.stderr}`);
        await new Promise((r) => setTimeout(r, 250));
      }

      const reply = ok(
        await run('npx', ['svc', 'request', 'Greeting.greet', '{"name": "Flynne"}']),
        'svc request',
      );
      expect(reply.trim()).toBe("'Hi, Flynne!'");
      // The template's schema: a call no compiler checked gets a clear error, not 'Hi, 1!'.
      const bad = await run('npx', ['svc', 'request', 'Greeting.greet', '{"name": 1}']);
      expect(bad.code).toBe(2);
      expect(bad.stderr.trim()).toBe(
        'svc: invalid parameters for Greeting.greet: name must be a string, got number 1',
      );

      const status = JSON.parse(
        ok(await run(svc, ['node', 'status', '--json']), 'svc node status'),
      ) as { sockets: Array<{ name: string; port: number }> };
      const port = status.sockets.find((s) => s.name === 'Web')?.port;
      expect(port).toBeGreaterThan(0);
      const res = await fetch(`http://127.0.0.1:${port}/greet?name=Clu`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe('Hi, Clu!');
      const trace = res.headers.get('x-trace-id')?.slice(0, 10);
      expect(trace).toMatch(/^[0-9a-f]{10}$/);
      // Web called Greeting, and Web's event handler heard Greeting's event.
      await node.waitFor(
        (p) => `${p.stdout}${p.stderr}`.includes(`[${trace}] Somebody greeted Clu`),
        'the greeted event to reach Web',
        15_000,
      );
      expect(`${node.stdout}${node.stderr}`).toMatch(
        new RegExp(`^Greeting\\.[01] +\\| .*\\[${trace}\\] Saying hi to Clu$`, 'm'),
      );
    } finally {
      await stop(node);
    }
    expect(node.child.exitCode).toBe(0);
  }, 120_000);

  it('refuses to write into a folder that is not empty, in one line, exit 2', async () => {
    const result = await run(process.execPath, [SVC_BIN, 'new', app]);
    expect(result.code).toBe(2);
    expect(result.stderr).toBe(
      `svc: ${app} is not empty: svc new writes a project into a new or empty folder only\n`,
    );
  });
});

/**
 * Stops a process as Ctrl-C would, then kills whatever is left of it: the
 * whole process group of one started `detached` (`svc node` and its children).
 */
async function stop(proc: Proc): Promise<void> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, new Promise((r) => setTimeout(r, 15_000))]);
  }
  if (groups.has(proc)) {
    try {
      process.kill(-proc.pid, 'SIGKILL');
    } catch {
      // the group is gone
    }
  } else proc.child.kill('SIGKILL');
}
