// Type errors in the development loop: `svc check` once, and `svc node --watch`
// after each change, on a project of its own outside this repository.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, until } from '../node/helpers.js';
import { REPO, TestEnv, requireBuild } from '../support/svc.js';

const env = new TestEnv();
const dirs: string[] = [];
const resolveFromRepo = createRequire(join(REPO, 'package.json'));
const packageDir = (name: string) => dirname(resolveFromRepo.resolve(`${name}/package.json`));

const GREETING = `import { RPC, Service, rpc, t } from '@svc/core';

export class Greeting extends Service {
  static override readonly serviceName = 'Greeting';
  declare [RPC]: 'greet';

  @rpc({ params: { name: t.string() } }) greet({ name }: { name: string }) {
    return \`Hi, \${name}!\`;
  }
}
`;

const WEB = `import { Service, http, type HttpRequest } from '@svc/core';
import type { Greeting } from './greeting.js';

export class Web extends Service<{ Greeting: Greeting }> {
  static override readonly serviceName = 'Web';

  @http('GET', '/greet') async greet(request: HttpRequest) {
    return await this.rpc.Greeting.greet({ name: request.query['name'] ?? 'you' });
  }
}
`;

/**
 * A project folder outside the repository: package.json, a strict
 * tsconfig.json, two services, and node_modules linking @svc/core (and,
 * unless left out, typescript and @types/node) from this workspace.
 */
function project(
  options: { typescript?: boolean; tsconfig?: boolean } = {},
  dir = mkdtempSync(join(tmpdir(), 'svc-check-')),
): string {
  dirs.push(dir);
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  if (options.tsconfig !== false) {
    writeFileSync(
      join(dir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ['node'],
        },
        include: ['services'],
      }),
    );
  }
  mkdirSync(join(dir, 'services'));
  writeFileSync(join(dir, 'services/greeting.ts'), GREETING);
  writeFileSync(join(dir, 'services/web.ts'), WEB);
  mkdirSync(join(dir, 'node_modules/@svc'), { recursive: true });
  mkdirSync(join(dir, 'node_modules/@types'));
  symlinkSync(join(REPO, 'packages/core'), join(dir, 'node_modules/@svc/core'));
  if (options.typescript !== false) {
    symlinkSync(packageDir('typescript'), join(dir, 'node_modules/typescript'));
    symlinkSync(packageDir('@types/node'), join(dir, 'node_modules/@types/node'));
  }
  return dir;
}

beforeAll(() => requireBuild());
afterAll(async () => {
  await env.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('svc check', () => {
  it('reports each type error of the project on one line, file:line:col, and exits 1', async () => {
    const dir = project();
    writeFileSync(
      join(dir, 'services/web.ts'),
      WEB.replace('this.rpc.Greeting.greet(', 'this.rpc.Greeting.gret('),
    );
    writeFileSync(
      join(dir, 'services/greeting.ts'),
      GREETING.replace('params: { name: t.string() }', 'params: { name: t.integer() }'),
    );
    const { code, stdout, stderr } = await env.run(['check'], { cwd: dir });
    expect(code).toBe(1);
    const lines = stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(
      /^services\/greeting\.ts:7:4: error TS1241: Unable to resolve signature of method decorator when called as an expression\. .*the params schema's type is not the method's parameter type/,
    );
    expect(lines[1]).toBe(
      "services/web.ts:8:36: error TS2551: Property 'gret' does not exist on type '{ readonly greet: TypedRpcMethod<{ name: string; }, string>; }'. Did you mean 'greet'?",
    );
    expect(stderr).toBe('svc check: 2 type errors (tsconfig.json)\n');
  });

  it('prints nothing on stdout and exits 0 when the project type-checks', async () => {
    const dir = project();
    const { code, stdout, stderr } = await env.run(['check', '--project', dir], { cwd: tmpdir() });
    expect({ code, stdout }).toEqual({ code: 0, stdout: '' });
    expect(stderr).toMatch(/^svc check: no type errors \(.*tsconfig\.json, 2 files\)\n$/);
  });

  it('says in one line, exit 2, that it has no TypeScript or no tsconfig.json to check with', async () => {
    const bare = project({ typescript: false });
    const untyped = await env.run(['check'], { cwd: bare });
    expect(untyped).toEqual({
      code: 2,
      stdout: '',
      stderr: `svc: typescript is not installed for ${bare}: svc check uses the project's own TypeScript (npm install --save-dev typescript)\n`,
    });
    const none = project({ tsconfig: false });
    const nothing = await env.run(['check', '-p', join(none, 'services')], { cwd: none });
    expect(nothing).toEqual({
      code: 2,
      stdout: '',
      stderr: `svc: no tsconfig.json in ${join(none, 'services')} or above it: nothing to check\n`,
    });
  });

  it('finds no type error in the examples, each checked as a project of its own', async () => {
    const results = await Promise.all(
      ['examples/lymph-tour', 'examples/nameko'].map((p) =>
        env.run(['check', '-p', p], { cwd: REPO }),
      ),
    );
    expect(results.map((r) => [r.code, r.stdout])).toEqual([
      [0, ''],
      [0, ''],
    ]);
  });
});

describe('svc node --watch', () => {
  let cluster: Cluster | undefined;
  afterEach(() => cluster?.cleanup());

  it('reports the type errors a change brings, beside the reload, and that they are gone once fixed', async () => {
    cluster = new Cluster(
      [
        'instances:',
        '  Greeting:',
        '    command: svc instance --config=conf/greeting.yml',
        `    env: { SVC_LOCAL_REGISTRY_DIR: ${env.registryDir} }`,
        '',
      ].join('\n'),
    );
    const dir = project({}, cluster.dir);
    mkdirSync(join(dir, 'conf'));
    writeFileSync(
      join(dir, 'conf/greeting.yml'),
      'interfaces:\n  Greeting:\n    class: ../services/greeting.ts#Greeting\n',
    );
    // A cluster of its own: the supervisor hands its SVC_CLUSTER to the instance.
    process.env['SVC_CLUSTER'] = env.cluster;
    cluster.start('--watch');
    const checked = () =>
      cluster!.output.match(/\[svc node\] svc check: no type errors \(tsconfig\.json, 2 files\)/g)
        ?.length ?? 0;
    await until('the first check', () => checked() === 1, 60_000);

    writeFileSync(
      join(dir, 'services/greeting.ts'),
      GREETING.replace(
        'return `Hi, ${name}!`;',
        'const n: number = name;\n    return `Hi, ${n}!`;',
      ),
    );
    // The reload goes on whatever the check finds.
    await cluster.waitOutput(/Greeting\.0: reloaded, pid \d+ is ready/, 60_000);
    await cluster.waitOutput(
      /\[svc node\] services\/greeting\.ts:8:11: error TS2322: Type 'string' is not assignable to type 'number'\.\n.*\[svc node\] svc check: 1 type error \(tsconfig\.json\)/,
      60_000,
    );

    writeFileSync(join(dir, 'services/greeting.ts'), GREETING);
    await until('the check after the fix', () => checked() === 2, 60_000);
  });
});
