import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** What the root `build` script says about every package, without building (`tsc -b --dry`). */
function dryBuild(): string {
  return execFileSync('npm', ['run', '--silent', 'build', '--', '--dry', '--verbose'], {
    cwd: root,
    encoding: 'utf8',
  });
}

// `npm run demo` and `npm test` build first: when nothing changed that must cost next to nothing.
it('leaves every package alone on a second build when no source changed', () => {
  if (/would build/.test(dryBuild())) {
    execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'pipe' });
  }
  const report = dryBuild();
  for (const pkg of ['core', 'tail', 'node', 'dashboard', 'cli']) {
    expect(report).toContain(
      `Project '${join(root, 'packages', pkg, 'tsconfig.build.json')}' is up to date`,
    );
  }
  expect(report).not.toMatch(/would build/);
});
