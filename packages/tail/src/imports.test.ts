import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// `svc instance` imports this package for its log stream. node:repl (the
// shells') loads node:domain, which wraps every event emitted and every I/O
// callback of the process: it must be imported only when a shell starts.
describe('@svc/tail imports', () => {
  it('load neither node:repl nor node:domain until a shell runs', () => {
    const index = fileURLToPath(new URL('../dist/index.js', import.meta.url));
    const loaded = execFileSync(
      process.execPath,
      [
        '--input-type=module',
        '-e',
        `await import(${JSON.stringify(index)}); console.log(JSON.stringify(process.moduleLoadList));`,
      ],
      { encoding: 'utf8' },
    );
    const modules = JSON.parse(loaded) as string[];
    expect(modules).toContain('NativeModule net');
    expect(modules.filter((m) => /\b(repl|domain)$/.test(m))).toEqual([]);
  });
});
