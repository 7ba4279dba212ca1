import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadInstanceConfig, type ClassDocs } from '@svc/core';
import type { InstanceConfig } from '@svc/node';
import type { Plugin } from 'esbuild';
import { readDocsInChild, type DocsFile } from './docs-reader.js';

/**
 * TypeScript service files, loaded without a loader thread.
 *
 * Node 20 runs module loader hooks (tsx's) in a thread of their own with its
 * own V8 heap: about 28 MB more for every instance, for the life of the
 * process. Instead, each `.ts` file is compiled once by esbuild into
 * `node_modules/.cache/svc/` beside the project's dependencies and imported
 * from there as plain ESM:
 * - one output file per source file, never a bundle, so a module shared by
 *   two services is one module (its classes, `instanceof`, its state);
 * - relative imports are resolved as TypeScript does (`./lib.js` may be
 *   `lib.ts`); packages stay imports of the project's own `node_modules`;
 * - `import.meta.url`, `.filename` and `.dirname` keep naming the source
 *   file, and stack traces point into it (inline source maps).
 * Files esbuild cannot place that way (no `node_modules` folder above them,
 * a cache that cannot be written, CommonJS `.cts`) are handed to tsx as
 * before.
 *
 * Beside each compiled entry goes `<entry>.docs.json`: the doc comments and
 * parameters of its service classes, read by TypeScript's parser in a
 * child process (see docs-child.ts), for `svc inspect`.
 */

const TS_FILE = /\.(?:ts|mts|tsx)$/;
const RESOLVING = Symbol('svc-resolving');
/** 2: `import.meta` replaced through esbuild's `define`, no longer as text. */
const OUTPUT_FORMAT = 2;

/** Imports `url`, compiling TypeScript; other URLs go straight to `import()`. */
export async function importModule(url: string): Promise<Record<string, unknown>> {
  if (url.startsWith('file:')) {
    const path = fileURLToPath(url);
    if (/\.[cm]?tsx?$/.test(path) && existsSync(path)) {
      const compiled = await compileTypeScript(path);
      if (compiled) return (await import(pathToFileURL(compiled).href)) as Record<string, unknown>;
      await useTsx();
    }
  }
  return (await import(url)) as Record<string, unknown>;
}

/**
 * Compiles the TypeScript service files of every `svc instance --config X`
 * command of a `.svc.yml`, once, before `svc node` starts their processes
 * (which would otherwise each compile the same files side by side). Never
 * throws: a config or a file that does not load is for its process to report.
 */
export async function precompile(instances: readonly InstanceConfig[]): Promise<void> {
  const files = new Set<string>();
  for (const i of instances) {
    const configFile = instanceConfigOf(i.parsed);
    if (!configFile) continue;
    try {
      const config = loadInstanceConfig(resolve(i.cwd, configFile), { ...process.env, ...i.env });
      for (const iface of config.interfaces) {
        const path = iface.class.slice(0, iface.class.lastIndexOf('#'));
        if (path.startsWith('.') || isAbsolute(path)) files.add(resolve(config.dir, path));
      }
    } catch {
      // the process reports it
    }
  }
  for (const file of files) {
    if (existsSync(file)) await compileTypeScript(file).catch(() => undefined);
  }
}

/** X of `svc instance --config X` (or `--config=X`, `-c X`); undefined for any other command. */
function instanceConfigOf(parsed: InstanceConfig['parsed']): string | undefined {
  if (parsed.kind !== 'argv' || basename(parsed.file) !== 'svc') return undefined;
  const [sub, ...args] = parsed.args;
  if (sub !== 'instance') return undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a.startsWith('--config=')) return a.slice('--config='.length);
    if (a === '--config' || a === '-c') return args[i + 1];
  }
  return undefined;
}

let tsx: Promise<void> | undefined;

/** Registers tsx's loader hooks once, for what the compiler leaves to it. */
function useTsx(): Promise<void> {
  tsx ??= import('tsx/esm/api').then(({ register }) => void register());
  return tsx;
}

/**
 * Compiles `entry` and the TypeScript files it imports into the cache;
 * returns the compiled entry's path, or undefined when tsx should load it.
 * Throws an Error listing esbuild's messages when the source does not compile.
 */
export function compileTypeScript(entry: string): Promise<string | undefined> {
  // One at a time: each compile stops esbuild's service when it is done.
  const run = queued.then(() => compile(entry));
  queued = run.catch(() => undefined);
  return run;
}

let queued: Promise<unknown> = Promise.resolve();

async function compile(entry: string): Promise<string | undefined> {
  if (!TS_FILE.test(entry)) return undefined;
  const outDir = cacheDir(entry);
  if (!outDir) return undefined;
  process.setSourceMapsEnabled(true);
  const entryOut = outputFor(outDir, entry);
  const manifestFile = `${entryOut}.json`;
  const docsFile = `${entryOut}.docs.json`;
  const current = upToDate(manifestFile, outDir);
  if (current) {
    // A cache from before docs were kept: read them once, without compiling again.
    if (!existsSync(docsFile)) await writeDocs(entry, current, docsFile);
    return entryOut;
  }
  const esbuild = await import('esbuild');
  const outputs = new Map<string, string>();
  const queue = [entry];
  try {
    for (let src = queue.shift(); src !== undefined; src = queue.shift()) {
      if (outputs.has(src)) continue;
      const out = outputFor(outDir, src);
      outputs.set(src, out);
      const result = await esbuild.build({
        entryPoints: [src],
        bundle: true,
        write: false,
        outfile: out,
        format: 'esm',
        platform: 'node',
        target: `node${process.versions.node}`,
        packages: 'external',
        define: importMetaOf(src),
        sourcemap: 'inline',
        logLevel: 'silent',
        plugins: [oneFilePerModule(outDir, queue)],
      });
      if (!writeIfChanged(out, result.outputFiles[0]!.contents)) return undefined;
    }
    // Before the manifest: a manifest says the docs beside it are current too.
    await writeDocs(entry, [...outputs.keys()], docsFile);
    const made = manifest([...outputs.keys()]);
    if (!writeIfChanged(manifestFile, Buffer.from(JSON.stringify(made)))) return undefined;
  } catch (err) {
    throw compileError(err);
  } finally {
    // esbuild serves builds from a child process: stop it, nothing else needs it.
    await esbuild.stop();
  }
  return outputs.get(entry);
}

/**
 * What a compiled entry was made from: every TypeScript file of its import
 * graph and every `tsconfig.json` above them, each with its content hash,
 * and the compiler's version. While all still match, the compiled files are
 * imported as they are and esbuild is not even loaded (instances of one
 * project start side by side, and start again on every restart).
 */
interface Manifest {
  compiler: string;
  /** when the graph was last compiled (a cache hit leaves the manifest as it is) */
  compiledAt: string;
  files: Record<string, string>;
}

function manifest(sources: string[]): Manifest {
  const files: Record<string, string> = {};
  for (const src of sources) {
    files[src] = hashOf(src)!;
    for (let dir = dirname(src); !(join(dir, 'tsconfig.json') in files);) {
      const tsconfig = join(dir, 'tsconfig.json');
      files[tsconfig] = hashOf(tsconfig) ?? 'absent';
      const parent = dirname(dir);
      if (parent === dir) break;
      dir = parent;
    }
  }
  return { compiler: compilerVersion(), compiledAt: new Date().toISOString(), files };
}

/** The TypeScript sources of a compiled entry whose manifest still matches them; undefined when it does not. */
function upToDate(manifestFile: string, outDir: string): string[] | undefined {
  try {
    const m = JSON.parse(readFileSync(manifestFile, 'utf8')) as Manifest;
    if (m.compiler !== compilerVersion()) return undefined;
    const current = Object.entries(m.files).every(
      ([file, hash]) =>
        (hashOf(file) ?? 'absent') === hash &&
        (!TS_FILE.test(file) || existsSync(outputFor(outDir, file))),
    );
    return current ? Object.keys(m.files).filter((f) => TS_FILE.test(f)) : undefined;
  } catch {
    return undefined;
  }
}

function hashOf(file: string): string | undefined {
  try {
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return undefined;
  }
}

/**
 * esbuild's version, this Node's and how svc drives esbuild (`OUTPUT_FORMAT`,
 * raised when the same source would compile differently): any of them changing
 * means compiling again.
 */
function compilerVersion(): string {
  const { version } = createRequire(import.meta.url)('esbuild/package.json') as { version: string };
  return `esbuild ${version}, node ${process.versions.node}, svc ${OUTPUT_FORMAT}`;
}

/**
 * Leaves every import but the entry's own code outside its output file:
 * TypeScript files become imports of their own compiled file (and join the
 * queue), other files are imported where they are.
 */
function oneFilePerModule(outDir: string, queue: string[]): Plugin {
  return {
    name: 'svc-one-file-per-module',
    setup(build) {
      build.onResolve({ filter: /^\.{0,2}\// }, async (args) => {
        if (args.kind === 'entry-point' || args.pluginData === RESOLVING) return undefined;
        const found = await build.resolve(args.path, {
          kind: args.kind,
          importer: args.importer,
          resolveDir: args.resolveDir,
          pluginData: RESOLVING,
        });
        if (found.errors.length > 0) return { errors: found.errors };
        if (!isAbsolute(found.path)) return undefined;
        if (TS_FILE.test(found.path)) {
          queue.push(found.path);
          return { path: `./${basename(outputFor(outDir, found.path))}`, external: true };
        }
        return { path: pathToFileURL(found.path).href, external: true };
      });
    },
  };
}

/**
 * `import.meta.url` and friends name the source file, not the compiled one.
 * esbuild's `define` replaces only those expressions in the parsed code, never
 * text inside strings or comments, and leaves the source map's columns as they
 * were. Each build holds one source file's code, so one file's paths per build.
 */
function importMetaOf(path: string): Record<string, string> {
  return {
    'import.meta.url': JSON.stringify(pathToFileURL(path).href),
    'import.meta.filename': JSON.stringify(path),
    'import.meta.dirname': JSON.stringify(dirname(path)),
  };
}

const docsWarned = new Set<string>();

/**
 * Reads the docs of `files` (the entry first: its classes win a name shared
 * with an imported file) in a child process and writes them to `docsFile`.
 * Never throws: without docs, `svc inspect` shows what the decorators say.
 */
async function writeDocs(entry: string, files: string[], docsFile: string): Promise<void> {
  const ordered = [entry, ...files.filter((f) => f !== entry)];
  const docs = await readDocsInChild(dirname(entry), ordered);
  if (docs.error && !docsWarned.has(docs.error)) {
    docsWarned.add(docs.error);
    process.stderr.write(`svc: ${docs.error}\n`);
  }
  try {
    writeIfChanged(docsFile, Buffer.from(JSON.stringify(docs)));
  } catch {
    // an unwritable cache: inspect does without docs
  }
}

/**
 * The docs of class `className` from `sourceFile`, as the compile step
 * wrote them beside its output; undefined when there are none.
 */
export function readDocs(sourceFile: string, className: string): ClassDocs | undefined {
  const outDir = cacheDir(sourceFile);
  if (!outDir) return undefined;
  try {
    const docs = JSON.parse(
      readFileSync(`${outputFor(outDir, sourceFile)}.docs.json`, 'utf8'),
    ) as Partial<DocsFile>;
    const classes = docs.classes;
    return classes && Object.hasOwn(classes, className) ? classes[className] : undefined;
  } catch {
    return undefined;
  }
}

/** `node_modules/.cache/svc` in the nearest folder above `file` that has `node_modules`. */
function cacheDir(file: string): string | undefined {
  for (let dir = dirname(file); ;) {
    const modules = join(dir, 'node_modules');
    if (existsSync(modules) && statSync(modules).isDirectory())
      return join(modules, '.cache', 'svc');
    const parent = dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/** One fixed output file per source path: the same module however it is reached. */
function outputFor(outDir: string, src: string): string {
  const tag = createHash('sha256').update(src).digest('hex').slice(0, 12);
  return join(outDir, `${basename(src, extname(src))}-${tag}.mjs`);
}

/**
 * Replaces the file atomically, and only when it differs (instances start
 * side by side). False when the cache cannot be written (a read-only or
 * full disk, a file where the folder should be): tsx loads the source then.
 */
function writeIfChanged(path: string, contents: Uint8Array): boolean {
  try {
    if (Buffer.from(contents).equals(readFileSync(path))) return true;
  } catch {
    // not there yet
  }
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(tmp, contents);
    renameSync(tmp, path);
    return true;
  } catch (err) {
    if (CANNOT_WRITE.has((err as NodeJS.ErrnoException).code ?? '')) return false;
    throw err;
  }
}

const CANNOT_WRITE = new Set(['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR', 'EEXIST']);

interface EsbuildMessage {
  text: string;
  location: { file: string; line: number; column: number; lineText: string } | null;
}

/** esbuild's failure as one readable Error: `file:line:col: message` per problem. */
function compileError(err: unknown): Error {
  const errors = (err as { errors?: EsbuildMessage[] }).errors;
  if (!Array.isArray(errors) || errors.length === 0) return err as Error;
  const lines = errors.map((e) =>
    e.location
      ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ${e.text}` +
        (e.location.lineText.trim() ? `\n    ${e.location.lineText}` : '')
      : e.text,
  );
  return new Error(`TypeScript does not compile:\n${lines.join('\n')}`, { cause: err });
}
