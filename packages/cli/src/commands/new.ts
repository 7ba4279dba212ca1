import {
  copyFileSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UsageError } from '@svc/core';
import type { Command } from 'commander';
import { out } from '../util.js';
import { cliVersion } from '../version.js';

/** The project template, shipped in this package beside `src/` and `dist/`. */
const TEMPLATE = fileURLToPath(new URL('../../templates/project/', import.meta.url));

/**
 * Template files stored under another name: npm leaves `.gitignore` out of
 * tarballs, so the template keeps it as `gitignore`.
 */
const RENAMED: Record<string, string> = { gitignore: '.gitignore' };

/** The scaffold's tools: the versions this repository builds and tests svc with. */
export const DEV_DEPENDENCIES = {
  '@types/node': '^20.19.0',
  typescript: '~5.9.3',
  vitest: '^3.2.4',
} as const;

/** npm's rule for a package name: lower case, URL-safe, optionally scoped, at most 214 characters. */
const PACKAGE_NAME = /^(?:@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/** What `scaffold` made. */
export interface Scaffolded {
  /** absolute path of the project folder */
  dir: string;
  name: string;
  /** the files written, relative to `dir`, sorted */
  files: string[];
}

/**
 * Writes a new project into `dir` (created when missing; it must be empty
 * when it exists): package.json, tsconfig.json, two services, their
 * instance configs, `.svc.yml`, a test and a README. Throws a UsageError,
 * having written nothing, when the folder or the name will not do.
 */
export function scaffold(
  dir: string,
  options: { name?: string; version: string; packages?: string },
): Scaffolded {
  const abs = resolve(dir);
  checkEmptyFolder(abs, dir);
  // Read before anything is written: a folder without svc's tarballs is refused as a whole.
  const tarballs =
    options.packages === undefined ? undefined : findTarballs(options.packages, options.version);
  const name = options.name ?? basename(abs);
  if (name.length > 214 || !PACKAGE_NAME.test(name)) {
    throw new UsageError(
      `"${name}" cannot be a package name (lower case letters, digits, "-", "_", "." and "~"); choose one with --name`,
    );
  }
  const files = templateFiles(TEMPLATE);
  mkdirSync(abs, { recursive: true });
  const written: string[] = [];
  for (const file of files) {
    const target = join(dirname(file), RENAMED[basename(file)] ?? basename(file));
    mkdirSync(join(abs, dirname(target)), { recursive: true });
    const text = readFileSync(join(TEMPLATE, file), 'utf8').replaceAll('{{name}}', name);
    writeFileSync(join(abs, target), text);
    written.push(target);
  }
  const pkg = packageJson(name, options.version);
  if (tarballs) {
    // svc's packages from the tarballs, copied into the project so that it
    // stays installable wherever it moves: the two it depends on directly,
    // and through `overrides` every @svc package another one depends on.
    mkdirSync(join(abs, VENDOR), { recursive: true });
    const overrides: Record<string, string> = {};
    const dependencies = pkg['dependencies'] as Record<string, string>;
    for (const [pkgName, file] of tarballs) {
      copyFileSync(file, join(abs, VENDOR, basename(file)));
      written.push(`${VENDOR}/${basename(file)}`);
      const spec = `file:${VENDOR}/${basename(file)}`;
      if (pkgName in dependencies) {
        dependencies[pkgName] = spec;
        overrides[pkgName] = `$${pkgName}`;
      } else overrides[pkgName] = spec;
    }
    pkg['overrides'] = overrides;
  }
  writeFileSync(join(abs, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  written.push('package.json');
  return { dir: abs, name, files: written.sort() };
}

/** Where `--packages` copies svc's tarballs, inside the new project. */
const VENDOR = 'vendor';

/**
 * svc's package tarballs of this version in `folder`, by package name
 * (`svc-core-0.1.0.tgz` is `@svc/core`, as `pnpm pack` names them). The
 * two a project depends on must be there.
 */
function findTarballs(folder: string, version: string): Map<string, string> {
  let entries: string[];
  try {
    entries = readdirSync(folder);
  } catch (err) {
    throw new UsageError(`--packages ${folder}: ${(err as Error).message}`, { cause: err });
  }
  const found = new Map<string, string>();
  const suffix = `-${version}.tgz`;
  for (const entry of entries.sort()) {
    if (!entry.startsWith('svc-') || !entry.endsWith(suffix)) continue;
    found.set(`@svc/${entry.slice(4, -suffix.length)}`, resolve(folder, entry));
  }
  const missing = ['@svc/cli', '@svc/core'].filter((n) => !found.has(n));
  if (missing.length > 0) {
    throw new UsageError(
      `--packages ${folder} has no tarball of ${missing.join(' or ')} at version ${version} (svc-cli-${version}.tgz, made by pnpm pack)`,
    );
  }
  return found;
}

/** The new project's package.json: svc's packages at this CLI's version, and the tools to test with. */
function packageJson(name: string, version: string): Record<string, unknown> {
  return {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    engines: { node: '^20.5.0 || ^22.0.0 || ^24.0.0' },
    scripts: {
      start: 'svc node',
      dev: 'svc node --watch',
      typecheck: 'tsc --noEmit',
      test: 'tsc --noEmit && vitest run',
    },
    dependencies: { '@svc/cli': `^${version}`, '@svc/core': `^${version}` },
    devDependencies: DEV_DEPENDENCIES,
  };
}

function checkEmptyFolder(abs: string, shown: string): void {
  let entries: string[];
  try {
    if (!statSync(abs).isDirectory()) throw new UsageError(`${shown} exists and is not a folder`);
    entries = readdirSync(abs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    if (err instanceof UsageError) throw err;
    throw new UsageError(`cannot use ${shown}: ${(err as Error).message}`, { cause: err });
  }
  if (entries.length > 0) {
    throw new UsageError(
      `${shown} is not empty: svc new writes a project into a new or empty folder only`,
    );
  }
}

/** Every file under `root`, as paths relative to it, sorted. */
function templateFiles(root: string, sub = ''): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(join(root, sub), { withFileTypes: true })) {
    const path = join(sub, entry.name);
    if (entry.isDirectory()) files.push(...templateFiles(root, path));
    else files.push(path);
  }
  return files.sort();
}

/** How to `cd` into `abs` from here: a relative path when it is below, else the absolute one. */
function cdPath(abs: string): string {
  const rel = relative(process.cwd(), abs);
  const path = rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : abs;
  return /^[\w./@~+-]+$/.test(path) ? path : `'${path.replaceAll("'", "'\\''")}'`;
}

export default function register(program: Command): Command {
  return program
    .command('new')
    .description('Create a project: two services, their config, a test')
    .argument('<dir>', 'the folder to create (it may exist if it is empty)')
    .option('--name <name>', 'the package name (default: the folder name)')
    .option(
      '--packages <folder>',
      "install svc's packages from the tarballs in this folder (pnpm pack's), copied into vendor/",
    )
    .addHelpText(
      'after',
      `
Writes package.json (depending on @svc/core and @svc/cli ^${cliVersion()}),
a strict tsconfig.json, services/greeting.ts and services/web.ts (an RPC
method, an HTTP route that calls it, an event handler), conf/*.yml,
.svc.yml, a test written with @svc/core/testing and vitest, a README and a
.gitignore. Nothing is installed: run npm install in the new folder.
With --packages, svc's packages come from tarballs (until they are on the
npm registry: npm run new-project -- <dir> in svc's repository packs
them and runs this).

Example:
  svc new my-services && cd my-services && npm install && npm test`,
    )
    .action((dir: string, opts: { name?: string; packages?: string }) => {
      const made = scaffold(dir, {
        version: cliVersion(),
        ...(opts.name ? { name: opts.name } : {}),
        ...(opts.packages ? { packages: opts.packages } : {}),
      });
      out(`Created ${made.name} in ${made.dir}:`);
      for (const file of made.files) out(`  ${file}`);
      out();
      out('Next steps:');
      out(`  cd ${cdPath(made.dir)}`);
      out('  npm install');
      out('  npm test                 # type check, then the tests');
      out('  npx svc node             # run the cluster (Ctrl-C stops it)');
      out();
      out('and from another terminal:');
      out(`  curl 'localhost:8080/greet?name=Flynne'`);
      out(`  npx svc request Greeting.greet '{"name": "Flynne"}'`);
    });
}
