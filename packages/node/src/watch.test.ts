import { describe, expect, it } from 'vitest';
import { isIgnored } from './watch.js';

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
