// svc's errors as a user's test runner reports them. vitest writes `expected`
// onto every error it reports (assertion errors carry `expected` and `actual`);
// SvcError's `expected` was a getter alone, so vitest's report of a test that
// failed with one threw "Cannot set property expected of Error which has only
// a getter" and the real error was never shown.
import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { FIXTURES, REPO, requireBuild } from '../support/svc.js';

describe("a user's vitest run that fails with svc's errors", () => {
  it('reports each error with its class and message', () => {
    requireBuild();
    const dir = join(FIXTURES, 'vitest-report');
    const run = spawnSync(
      process.execPath,
      [join(REPO, 'node_modules/vitest/vitest.mjs'), 'run', '--root', dir],
      {
        cwd: dir,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, CI: '1', NO_COLOR: '1', FORCE_COLOR: '0' },
      },
    );
    const out = run.stdout + run.stderr;
    expect(run.status, out).toBe(1);
    expect(out).not.toContain('which has only a getter');
    expect(out).toContain('RpcTimeoutError: no answer from Greeting.greet in 50 ms');
    expect(out).toContain('HttpError: no such user: flynne');
    expect(out).toContain('ValidationError: name: expected a string');
    expect(out).toMatch(/Tests\s+3 failed \(3\)/);
  });
});
