import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { InstanceConfig } from '@svc/node';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { importModule, precompile, readDocs } from './typescript.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'svc-precompile-'));
  dirs.push(dir);
  // a node_modules folder is where the compile cache goes
  mkdirSync(join(dir, 'node_modules'));
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }');
  mkdirSync(join(dir, 'conf'));
  mkdirSync(join(dir, 'services'));
  writeFileSync(
    join(dir, 'services/a.ts'),
    "export class A { hello(name: string): string { return 'hi ' + name; } }\n",
  );
  writeFileSync(join(dir, 'conf/a.yml'), 'interfaces:\n  A:\n    class: ../services/a.ts#A\n');
  return dir;
}

function instance(cwd: string, file: string, args: string[]): InstanceConfig {
  return {
    name: 'A',
    command: '',
    parsed: { kind: 'argv', file, args },
    numprocesses: 2,
    env: {},
    cwd,
  };
}

const compiled = (dir: string) =>
  existsSync(join(dir, 'node_modules/.cache/svc'))
    ? readdirSync(join(dir, 'node_modules/.cache/svc')).filter((f) => f.endsWith('.mjs'))
    : [];

describe('precompile (svc node, before its processes start)', () => {
  it.each([['--config=conf/a.yml'], ['--config', 'conf/a.yml'], ['-c', 'conf/a.yml']])(
    'compiles the service files of `svc instance %s`',
    async (...config) => {
      const dir = project();
      await precompile([instance(dir, 'svc', ['instance', ...config])]);
      expect(compiled(dir)).toEqual([expect.stringMatching(/^a-[0-9a-f]{12}\.mjs$/)]);
    },
  );

  it('leaves other commands, bad configs and broken sources to their processes', async () => {
    const dir = project();
    writeFileSync(join(dir, 'services/a.ts'), 'export class A {\n');
    writeFileSync(join(dir, 'conf/bad.yml'), 'interfaces: [not, a, mapping]\n');
    await expect(
      precompile([
        instance(dir, 'svc', ['instance', '--config', 'conf/a.yml']),
        instance(dir, 'svc', ['instance', '--config', 'conf/bad.yml']),
        instance(dir, 'svc', ['instance', '--config', 'conf/missing.yml']),
        instance(dir, 'node', ['server.js', '--config', 'conf/a.yml']),
        { ...instance(dir, 'sh', []), parsed: { kind: 'shell', script: 'echo hi' } },
      ]),
    ).resolves.toBeUndefined();
    expect(compiled(dir)).toEqual([]);
  });
});

describe('importModule (a TypeScript service file)', () => {
  it('rewrites import.meta expressions to name the source, and leaves strings and comments as written', async () => {
    const dir = project();
    const file = join(dir, 'services/meta.ts');
    writeFileSync(
      file,
      [
        '// import.meta.url in a comment',
        'export const doubleQuoted: string = "see import.meta.url and import.meta.dirname";',
        "export const singleQuoted = 'import.meta.filename';",
        'export const template = `${import.meta.url} import.meta.url`;',
        'export const url: string = import.meta.url;',
        'export const filename: string = import.meta.filename;',
        'export const where: string = import.meta.dirname;',
        '',
      ].join('\n'),
    );
    const mod = await importModule(pathToFileURL(file).href);
    const href = pathToFileURL(file).href;
    expect(mod).toMatchObject({
      doubleQuoted: 'see import.meta.url and import.meta.dirname',
      singleQuoted: 'import.meta.filename',
      template: `${href} import.meta.url`,
      url: href,
      filename: file,
      where: dirname(file),
    });
  });
});

describe('docs beside the compiled files (for svc inspect)', () => {
  const source = [
    '/** Says hello. */',
    'export class A {',
    '  /**',
    '   * Greets one name',
    '   * @param name - who to greet',
    '   */',
    '  hello({ name }: { name: string }): string { return "hi " + name; }',
    '}',
    '',
  ].join('\n');

  it("are read with the project's own TypeScript", async () => {
    const dir = project();
    writeFileSync(join(dir, 'services/a.ts'), source);
    // The project's typescript: this workspace's, linked in.
    const typescript = dirname(createRequire(import.meta.url).resolve('typescript/package.json'));
    symlinkSync(typescript, join(dir, 'node_modules/typescript'));
    await precompile([instance(dir, 'svc', ['instance', '--config', 'conf/a.yml'])]);
    expect(readDocs(join(dir, 'services/a.ts'), 'A')).toEqual({
      doc: 'Says hello.',
      methods: {
        hello: {
          doc: 'Greets one name',
          params: [{ name: 'name', type: 'string', doc: 'who to greet' }],
        },
      },
    });
    expect(readDocs(join(dir, 'services/a.ts'), 'Nobody')).toBeUndefined();
  });

  it('are left out, with one line saying why, when the project has no TypeScript', async () => {
    const dir = project();
    writeFileSync(join(dir, 'services/a.ts'), source);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      await precompile([instance(dir, 'svc', ['instance', '--config', 'conf/a.yml'])]);
      expect(compiled(dir)).toHaveLength(1);
      expect(stderr.mock.calls.map(([line]) => String(line))).toEqual([
        `svc: typescript is not installed for ${join(dir, 'services')}: svc inspect shows no doc comments (npm install --save-dev typescript)\n`,
      ]);
    } finally {
      stderr.mockRestore();
    }
    expect(readDocs(join(dir, 'services/a.ts'), 'A')).toBeUndefined();
  });
});
