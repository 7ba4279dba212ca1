import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { controlSocketPath } from './control.js';

const dir = mkdtempSync(join(tmpdir(), 'svc-control-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('controlSocketPath', () => {
  it('names one socket per config file, whatever the spelling of its path', () => {
    const file = join(dir, '.svc.yml');
    writeFileSync(file, '');
    symlinkSync(dir, join(dir, 'link'));
    const a = controlSocketPath(file);
    expect(controlSocketPath(join(dir, 'link', '.svc.yml'))).toBe(a);
    expect(controlSocketPath(join(dir, '.', '.svc.yml'))).toBe(a);
    expect(controlSocketPath(join(dir, 'other.yml'))).not.toBe(a);
  });

  it('stays under the unix socket path limit with a deep runtime folder', () => {
    const saved = process.env.XDG_RUNTIME_DIR;
    process.env.XDG_RUNTIME_DIR = join(dir, 'x'.repeat(90));
    try {
      expect(controlSocketPath(join(dir, '.svc.yml')).length).toBeLessThanOrEqual(100);
    } finally {
      if (saved === undefined) delete process.env.XDG_RUNTIME_DIR;
      else process.env.XDG_RUNTIME_DIR = saved;
    }
  });
});
