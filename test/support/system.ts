import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { REPO } from './svc.js';

/** How long installing a missing package may take (Chromium downloads about 100 MB). */
export const INSTALL_TIMEOUT_MS = 600_000;

/**
 * Makes sure `command` is there, installing Debian's `pkg` when it is not
 * (scripts/debian-package.sh, one apt-get at a time on the machine); throws
 * what the script said when it cannot be had, so that the test fails loudly.
 */
export function requireDebianPackage(pkg: string, command: string): void {
  const run = spawnSync('bash', [join(REPO, 'scripts/debian-package.sh'), pkg, command], {
    encoding: 'utf8',
    timeout: INSTALL_TIMEOUT_MS,
  });
  if (run.status !== 0) {
    const said = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim();
    throw new Error(`${command} is missing and could not be installed: ${said || run.error}`);
  }
}
