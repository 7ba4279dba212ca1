import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '@svc/core';
import { afterEach, describe, expect, it } from 'vitest';
import { DEV_DEPENDENCIES, scaffold } from './new.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'svc-new-'));
  dirs.push(dir);
  return dir;
}

function usageError(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('expected a UsageError');
}

describe('svc new', () => {
  it('writes the project into a new folder, named after the folder', () => {
    const dir = join(temp(), 'my-services');
    const made = scaffold(dir, { version: '1.2.3' });
    expect(made).toEqual({
      dir,
      name: 'my-services',
      files: [
        '.gitignore',
        '.svc.yml',
        'README.md',
        'conf/greeting.yml',
        'conf/web.yml',
        'package.json',
        'services/greeting.ts',
        'services/web.ts',
        'test/services.test.ts',
        'tsconfig.json',
      ],
    });
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg).toMatchObject({
      name: 'my-services',
      private: true,
      type: 'module',
      dependencies: { '@svc/cli': '^1.2.3', '@svc/core': '^1.2.3' },
      devDependencies: DEV_DEPENDENCIES,
    });
    const readme = readFileSync(join(dir, 'README.md'), 'utf8');
    expect(readme).toMatch(/^# my-services\n/);
    // A second HTTP service without a socket runs one process and can not be restarted.
    expect(readme).toMatch(/## Add a service\n[^#]*needs a socket of its name under\s+`sockets:`/);
    expect(readFileSync(join(dir, '.gitignore'), 'utf8')).toContain('node_modules/');
  });

  it('takes the package name from --name, and writes into an empty folder that exists', () => {
    const dir = temp();
    expect(scaffold(dir, { name: '@team/greeter', version: '1.2.3' }).name).toBe('@team/greeter');
    expect(JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))).toMatchObject({
      name: '@team/greeter',
    });
  });

  it('refuses a folder that is not empty, and leaves it as it was', () => {
    const dir = temp();
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    expect(usageError(() => scaffold(dir, { version: '1.2.3' }))).toBe(
      `${dir} is not empty: svc new writes a project into a new or empty folder only`,
    );
    expect(readdirSync(dir)).toEqual(['notes.txt']);
  });

  it('refuses a path that is a file', () => {
    const file = join(temp(), 'x');
    writeFileSync(file, '');
    expect(usageError(() => scaffold(file, { version: '1.2.3' }))).toBe(
      `${file} exists and is not a folder`,
    );
  });

  it('refuses a name npm would refuse, before writing anything', () => {
    const parent = temp();
    const dir = join(parent, 'My Services');
    expect(usageError(() => scaffold(dir, { version: '1.2.3' }))).toMatch(
      /^"My Services" cannot be a package name .*; choose one with --name$/,
    );
    expect(readdirSync(parent)).toEqual([]);
    mkdirSync(dir);
    expect(usageError(() => scaffold(dir, { name: '../x', version: '1.2.3' }))).toMatch(
      /^"\.\.\/x" cannot be a package name/,
    );
  });

  it('gives the project the TypeScript, vitest and Node types this repository tests svc with', () => {
    const root = JSON.parse(
      readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8'),
    ) as { devDependencies: Record<string, string> };
    for (const [name, range] of Object.entries(DEV_DEPENDENCIES)) {
      expect(root.devDependencies[name], name).toBe(range);
    }
  });

  it('takes svc from tarballs with --packages: copied into vendor/, every @svc package overridden', () => {
    const tgz = temp();
    for (const name of ['cli', 'core', 'node', 'tail'])
      writeFileSync(join(tgz, `svc-${name}-1.2.3.tgz`), name);
    writeFileSync(join(tgz, 'svc-core-1.0.0.tgz'), 'an older one, left alone');
    const dir = join(temp(), 'app');
    const made = scaffold(dir, { version: '1.2.3', packages: tgz });
    expect(made.files.filter((f) => f.startsWith('vendor/'))).toEqual([
      'vendor/svc-cli-1.2.3.tgz',
      'vendor/svc-core-1.2.3.tgz',
      'vendor/svc-node-1.2.3.tgz',
      'vendor/svc-tail-1.2.3.tgz',
    ]);
    expect(readFileSync(join(dir, 'vendor/svc-node-1.2.3.tgz'), 'utf8')).toBe('node');
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    expect(pkg['dependencies']).toEqual({
      '@svc/cli': 'file:vendor/svc-cli-1.2.3.tgz',
      '@svc/core': 'file:vendor/svc-core-1.2.3.tgz',
    });
    expect(pkg['overrides']).toEqual({
      '@svc/cli': '$@svc/cli',
      '@svc/core': '$@svc/core',
      '@svc/node': 'file:vendor/svc-node-1.2.3.tgz',
      '@svc/tail': 'file:vendor/svc-tail-1.2.3.tgz',
    });
  });

  it('refuses --packages without the tarballs of this version, writing nothing', () => {
    const tgz = temp();
    writeFileSync(join(tgz, 'svc-core-1.0.0.tgz'), 'another version');
    const dir = join(temp(), 'app');
    expect(usageError(() => scaffold(dir, { version: '1.2.3', packages: tgz }))).toBe(
      `--packages ${tgz} has no tarball of @svc/cli or @svc/core at version 1.2.3 (svc-cli-1.2.3.tgz, made by pnpm pack)`,
    );
    expect(() => readdirSync(dir)).toThrow(/ENOENT/);
    expect(
      usageError(() => scaffold(dir, { version: '1.2.3', packages: join(tgz, 'nope') })),
    ).toMatch(/^--packages .*nope: ENOENT/);
  });
});
