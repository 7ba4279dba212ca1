import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';

/** Imports one module by URL: `import()` unless a host (the CLI) sets another. */
export type ModuleImporter = (url: string) => Promise<Record<string, unknown>>;

let importModule: ModuleImporter = (url) => import(url) as Promise<Record<string, unknown>>;

/**
 * Sets how the modules named in config files are imported: the CLI compiles
 * TypeScript files this way. Returns the importer it replaced.
 */
export function setModuleImporter(importer: ModuleImporter): ModuleImporter {
  const previous = importModule;
  importModule = importer;
  return previous;
}

/**
 * Loads `module#Export` named in a config file: a path (`../services/greeting.ts`)
 * relative to the config's folder, or a package name resolved from there.
 * Only config files name code to load; nothing from the wire ever does.
 */
export async function loadExport(spec: string, baseDir: string, where: string): Promise<unknown> {
  const hash = spec.lastIndexOf('#');
  const modulePart = spec.slice(0, hash);
  const exportName = spec.slice(hash + 1) || 'default';
  if (!modulePart) throw new ConfigError(`${where}: "${spec}" names no module`);
  const url = resolveModule(modulePart, baseDir, where);
  let mod: Record<string, unknown>;
  try {
    mod = await importModule(url);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (
      e.code === 'ERR_MODULE_NOT_FOUND' &&
      String(e.message).includes(modulePart.replace(/^\.+\//, ''))
    ) {
      throw new ConfigError(`${where}: cannot find module "${modulePart}" (from ${baseDir})`, {
        cause: err,
      });
    }
    throw new ConfigError(`${where}: loading "${modulePart}" failed: ${e.message}`, { cause: err });
  }
  if (!Object.hasOwn(mod, exportName)) {
    throw new ConfigError(
      `${where}: module "${modulePart}" has no export "${exportName}" (it exports: ${Object.keys(mod).join(', ') || 'nothing'})`,
    );
  }
  return mod[exportName];
}

function resolveModule(modulePart: string, baseDir: string, where: string): string {
  if (modulePart.startsWith('.') || isAbsolute(modulePart)) {
    return pathToFileURL(resolve(baseDir, modulePart)).href;
  }
  try {
    return pathToFileURL(createRequire(resolve(baseDir, 'noop.js')).resolve(modulePart)).href;
  } catch (err) {
    // ESM-only packages have no `require` entry: let import() resolve it from here.
    if ((err as NodeJS.ErrnoException).code === 'ERR_PACKAGE_PATH_NOT_EXPORTED') return modulePart;
    throw new ConfigError(`${where}: cannot find package "${modulePart}" (from ${baseDir})`, {
      cause: err,
    });
  }
}
