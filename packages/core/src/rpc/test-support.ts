// Helpers shared by this folder's tests (not part of the build: see tsconfig.build.json).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import type { Logger } from '../log/logger.js';

/** A logger that drops everything. */
export const silent: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silent,
};

/**
 * Gives the calling test file a runtime folder of its own for the unix
 * sockets of its servers (read on first use): the stale files it leaves on
 * purpose are nobody else's to sweep, and its servers' sweeps touch nobody
 * else's. The folder goes, and the outer setting comes back, after the file.
 * Returns the folder.
 */
export function useOwnRuntimeDir(): string {
  const ownRuntime = mkdtempSync(join(tmpdir(), 'svc-xdg-'));
  const outerRuntime = process.env['XDG_RUNTIME_DIR'];
  process.env['XDG_RUNTIME_DIR'] = ownRuntime;
  afterAll(() => {
    if (outerRuntime === undefined) delete process.env['XDG_RUNTIME_DIR'];
    else process.env['XDG_RUNTIME_DIR'] = outerRuntime;
    rmSync(ownRuntime, { recursive: true, force: true });
  });
  return ownRuntime;
}
