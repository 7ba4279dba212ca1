import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { SvcError } from '@svc/core';

/** One file of the front end, in memory. */
export interface Asset {
  type: string;
  bytes: Buffer;
}

/**
 * Where the build put the front end: `dist/web` of this package, reached
 * the same way from `src/` (tests) and from `dist/` (the built command).
 */
export const WEB_DIR = fileURLToPath(new URL('../dist/web/', import.meta.url));

const FILES: Record<string, [file: string, type: string]> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/app.js': ['app.js', 'text/javascript; charset=utf-8'],
  '/app.css': ['app.css', 'text/css; charset=utf-8'],
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
};

/**
 * The front end's files by URL path, read once. Only these paths are
 * served: nothing from the request ever reaches the file system.
 */
export function loadAssets(dir = WEB_DIR): Map<string, Asset> {
  if (!existsSync(`${dir}/index.html`))
    throw new SvcError(
      `the dashboard's front end is not built (${dir} is empty): run \`npx pnpm build\` first`,
    );
  const out = new Map<string, Asset>();
  for (const [path, [file, type]] of Object.entries(FILES))
    out.set(path, { type, bytes: readFileSync(`${dir}/${file}`) });
  return out;
}
