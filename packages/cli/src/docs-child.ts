// Run as a child process by the TypeScript compile step: reads the docs of
// service classes with the project's own TypeScript parser, so that the
// process that compiles (an instance, `svc node`) never loads TypeScript
// itself (some 50 MB that would stay for the life of the process).
//
// Input on stdin: { "from": "<folder to resolve typescript from>", "files": ["<path>", ...] }
// Output on stdout: { "classes": { ... } } or { "error": "<why not>" }
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import type * as TS from 'typescript';
import { extractDocs } from './docs.js';

async function main(): Promise<void> {
  const input = JSON.parse(await text(process.stdin)) as { from: string; files: string[] };
  let ts: typeof TS;
  try {
    ts = createRequire(join(input.from, 'noop.js'))('typescript') as typeof TS;
  } catch {
    process.stdout.write(
      JSON.stringify({
        error: `typescript is not installed for ${input.from}: svc inspect shows no doc comments (npm install --save-dev typescript)`,
      }),
    );
    return;
  }
  const sources = input.files.map((path) => ({ path, text: readFileSync(path, 'utf8') }));
  process.stdout.write(JSON.stringify({ classes: extractDocs(ts, sources) }));
}

await main();
