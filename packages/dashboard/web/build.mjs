// Builds the dashboard's front end into dist/web: one minified script, one stylesheet, the page.
// Run by the package's build; the command serves these files and fetches nothing from elsewhere.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, statSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, '../dist/web');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(here, 'src/main.tsx')],
  outfile: join(out, 'app.js'),
  bundle: true,
  minify: true,
  format: 'esm',
  target: ['chrome110', 'firefox110', 'safari16'],
  jsx: 'automatic',
  jsxImportSource: 'preact',
  legalComments: 'none',
  logLevel: 'warning',
});
for (const file of ['index.html', 'app.css', 'favicon.svg'])
  copyFileSync(join(here, file), join(out, file));
const sizes = ['app.js', 'app.css', 'index.html'].map((f) => {
  const bytes = readFileSync(join(out, f));
  return `${f} ${statSync(join(out, f)).size} B (${gzipSync(bytes).length} B gzipped)`;
});
process.stdout.write(`dashboard front end: ${sizes.join(', ')}\n`);
