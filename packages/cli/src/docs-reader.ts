import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ClassDocs } from '@svc/core';

// The compile step's side of docs-child.ts: runs it in a child process (so
// that the compiling process never loads TypeScript) and reads its answer.

/** What the docs reader wrote: the classes' docs, or why there are none. */
export interface DocsFile {
  classes: Record<string, ClassDocs>;
  error?: string;
}

const DOCS_CHILD = fileURLToPath(new URL('../dist/docs-child.js', import.meta.url));
const DOCS_TIMEOUT_MS = 60_000;
const DOCS_MAX_BYTES = 16 * 1024 * 1024;

/**
 * The docs of the service classes in `files`, read by docs-child.ts with the
 * TypeScript that `from` resolves to. Never rejects: a failure is the
 * answer's `error`.
 */
export function readDocsInChild(from: string, files: string[]): Promise<DocsFile> {
  if (!existsSync(DOCS_CHILD)) {
    return Promise.resolve({ classes: {}, error: `${DOCS_CHILD} is missing: build @svc/cli` });
  }
  return new Promise((resolvePromise) => {
    const child = spawn(process.execPath, [DOCS_CHILD], { stdio: ['pipe', 'pipe', 'ignore'] });
    const chunks: Buffer[] = [];
    let size = 0;
    const fail = (why: string) =>
      resolvePromise({ classes: {}, error: `reading doc comments: ${why}` });
    const timer = setTimeout(() => child.kill('SIGKILL'), DOCS_TIMEOUT_MS);
    child.stdout.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > DOCS_MAX_BYTES) child.kill('SIGKILL');
      else chunks.push(chunk);
    });
    child.on('error', (err) => {
      clearTimeout(timer);
      fail(err.message);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return fail(signal ? `killed (${signal})` : `exit code ${code}`);
      try {
        const out = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Partial<DocsFile>;
        resolvePromise({
          classes: out.classes ?? {},
          ...(out.error === undefined ? {} : { error: out.error }),
        });
      } catch (err) {
        fail((err as Error).message);
      }
    });
    child.stdin.on('error', () => {});
    child.stdin.end(JSON.stringify({ from, files }));
  });
}
