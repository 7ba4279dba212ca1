import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
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

/** The folder of an installed package, as packages/core resolves it. */
function packageDir(name: string, from: string): string {
  const main = createRequire(from).resolve(name);
  for (let dir = dirname(main); dir !== dirname(dir); dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && dir.endsWith(`node_modules/${name}`)) return dir;
  }
  throw new Error(`cannot find the folder of ${name} from ${main}`);
}

/**
 * A copy of what the attacker script runs with (this Node.js binary, the
 * script, zeromq and msgpackr) in a folder every user can read: the other
 * user may not reach the checkout or the binary (a Node.js from
 * scripts/node-bin.sh lives under root's home, mode 0700).
 */
function stageAttacker(): { dir: string; node: string; script: string; modules: string } {
  const dir = mkdtempSync(join(tmpdir(), 'svc-attacker-'));
  try {
    const node = join(dir, 'node');
    copyFileSync(process.execPath, node);
    const script = join(dir, 'auth-attacker.mjs');
    copyFileSync(ATTACKER_SCRIPT, script);
    const core = fileURLToPath(new URL('../../../packages/core/package.json', import.meta.url));
    const zeromq = packageDir('zeromq', core);
    const packages = [
      [zeromq, 'zeromq'],
      [packageDir('cmake-ts', join(zeromq, 'package.json')), 'cmake-ts'],
      [packageDir('msgpackr', core), 'msgpackr'],
    ] as const;
    for (const [from, name] of packages) {
      cpSync(from, join(dir, 'node_modules', name), { recursive: true, dereference: true });
    }
    execFileSync('chmod', ['-R', 'a+rX', dir]);
    chmodSync(node, 0o755);
    return { dir, node, script, modules: join(dir, 'package.json') };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

/** Runs the attacker script as `user` against `targets`; resolves with what each attempt got. */
export async function attackAs(
  user: string,
  targets: Record<string, unknown>,
): Promise<Record<string, Attempt & { sent?: string; reply?: string }>> {
  const staged = stageAttacker();
  try {
    return await new Promise((resolve, reject) => {
      execFile(
        'runuser',
        ['-u', user, '--', staged.node, staged.script, JSON.stringify(targets), staged.modules],
        { timeout: 30_000, cwd: '/' },
        (err, stdout, stderr) => {
          if (err) {
            return reject(new Error(`the attacker script failed: ${err.message}\n${stderr}`));
          }
          resolve(JSON.parse(stdout) as Record<string, Attempt>);
        },
      );
    });
  } finally {
    rmSync(staged.dir, { recursive: true, force: true });
  }
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
