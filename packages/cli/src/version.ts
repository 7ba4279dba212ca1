import { readFileSync } from 'node:fs';

/**
 * The version of this package, from its package.json (one folder above both
 * `src/` and `dist/`), so that `svc --version` and the versions `svc new`
 * writes are those of the package that is installed.
 */
export function cliVersion(): string {
  const file = new URL('../package.json', import.meta.url);
  const { version } = JSON.parse(readFileSync(file, 'utf8')) as { version: string };
  return version;
}
