import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ATTACKER_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), 'auth-attacker.mjs');

/**
 * A throwaway local user, made with `useradd` (the test runs as root, as
 * CI does) and removed by {@link removeUser}. Fails loudly when the test
 * cannot make one: it would otherwise prove nothing.
 */
export function createUser(): string {
  if (process.getuid?.() !== 0) {
    throw new Error('test/hostile needs root (to useradd a second local user): CI runs as root');
  }
  const name = `svcatk${randomBytes(3).toString('hex')}`;
  execFileSync('useradd', ['--no-create-home', '--shell', '/usr/sbin/nologin', name]);
  return name;
}

export function removeUser(name: string): void {
  try {
    execFileSync('pkill', ['-KILL', '-u', name], { stdio: 'ignore' });
  } catch {
    // no process left
  }
  execFileSync('userdel', [name], { stdio: 'ignore' });
}

/** What one attempt of the attacker script got back. */
export interface Attempt {
  how: 'closed' | 'error' | 'still open';
  error?: string;
  received: number;
  text: string;
}

/** Runs the attacker script as `user` against `targets`; resolves with what each attempt got. */
export function attackAs(
  user: string,
  targets: Record<string, unknown>,
): Promise<Record<string, Attempt & { sent?: string; reply?: string }>> {
  return new Promise((resolve, reject) => {
    execFile(
      'runuser',
      ['-u', user, '--', process.execPath, ATTACKER_SCRIPT, JSON.stringify(targets)],
      { timeout: 30_000, cwd: '/' },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`the attacker script failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout) as Record<string, Attempt>);
      },
    );
  });
}

/** Runs the attacker script as this (root) user: the control runs of the same requests. */
export function attackAsMember(
  targets: Record<string, unknown>,
): Promise<Record<string, Attempt & { sent?: string; reply?: string }>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      [ATTACKER_SCRIPT, JSON.stringify(targets)],
      { timeout: 30_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`the attacker script failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout) as Record<string, Attempt>);
      },
    );
  });
}
