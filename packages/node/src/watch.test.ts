import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { InstanceConfig } from './config.js';
import { isIgnored, watchInstances } from './watch.js';

describe('isIgnored', () => {
  it('ignores dependencies, build output and dot-folders below the watched folder only', () => {
    const root = '/home/me/.projects/app';
    expect(isIgnored(root, root)).toBe(false);
    expect(isIgnored(root, `${root}/src/greet.ts`)).toBe(false);
    expect(isIgnored(root, `${root}/node_modules/x/index.js`)).toBe(true);
    expect(isIgnored(root, `${root}/dist/main.js`)).toBe(true);
    expect(isIgnored(root, `${root}/.git/HEAD`)).toBe(true);
    expect(isIgnored(root, `${root}/src/.cache/x`)).toBe(true);
  });
});

describe('watchInstances', () => {
  it('reports a burst of changes once, for the instances whose folder changed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'svc-watch-'));
    for (const d of ['a', 'b', 'a/node_modules']) mkdirSync(join(dir, d));
    const instance = (name: string, cwd: string): InstanceConfig => ({
      name,
      command: 'x',
      parsed: { kind: 'argv', file: 'x', args: [] },
      numprocesses: 1,
      env: {},
      cwd,
    });
    const calls: string[][] = [];
    const watcher = watchInstances(
      [instance('A', join(dir, 'a')), instance('B', join(dir, 'b'))],
      (names) => calls.push(names),
      300,
    );
    try {
      await watcher.ready;
      writeFileSync(join(dir, 'a', 'node_modules', 'dep.js'), '1');
      for (let i = 0; i < 5; i++) writeFileSync(join(dir, 'a', `f${i}.js`), String(i));
      await new Promise<void>((resolve, reject) => {
        const started = Date.now();
        const poll = setInterval(() => {
          if (calls.length > 0 || Date.now() - started > 10_000) {
            clearInterval(poll);
            if (calls.length > 0) resolve();
            else reject(new Error('no change reported'));
          }
        }, 50);
      });
      // Any straggler of the burst would land within another debounce period.
      await new Promise((r) => setTimeout(r, 600));
      expect(calls).toEqual([['A']]);
    } finally {
      await watcher.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
