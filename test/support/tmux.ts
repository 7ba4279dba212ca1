import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { requireDebianPackage } from './system.js';

/**
 * A real terminal for a test: a detached tmux session on a socket of its
 * own (`-L`), driven with send-keys and read with capture-pane. `kill()`
 * ends the server and whatever runs in it.
 */
export class Tmux {
  readonly socket = `svc-test-${randomBytes(4).toString('hex')}`;
  #socketPath: string | undefined;

  constructor() {
    requireDebianPackage('tmux', 'tmux');
  }

  #tmux(args: string[]): string {
    return execFileSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
  }

  /** Starts `command` (a shell command line) in a `width`×`height` terminal. */
  start(command: string, options: { cwd: string; width?: number; height?: number }): void {
    this.#tmux([
      '-f',
      '/dev/null',
      'new-session',
      '-d',
      '-x',
      String(options.width ?? 200),
      '-y',
      String(options.height ?? 50),
      '-c',
      options.cwd,
      command,
    ]);
    this.#socketPath = this.#tmux(['display-message', '-p', '#{socket_path}']).trim();
  }

  /** Types keys (tmux key names such as `Tab`, `Enter`, `C-c`, or literal text with `literal`). */
  send(keys: string, options: { literal?: boolean } = {}): void {
    this.#tmux(['send-keys', ...(options.literal ? ['-l'] : []), keys]);
  }

  /** The visible screen, one string. */
  screen(): string {
    return this.#tmux(['capture-pane', '-p']);
  }

  /** Waits until the screen passes `check`; fails with the last screen. */
  async waitFor(
    check: (screen: string) => boolean,
    what: string,
    timeoutMs = 15_000,
  ): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      try {
        last = this.screen();
      } catch {
        last = '(no tmux session)';
      }
      if (check(last)) return last;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${last}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Ends the tmux server and what runs in it, and removes its socket file. */
  kill(): void {
    try {
      this.#tmux(['kill-server']);
    } catch {
      // Already gone.
    }
    if (this.#socketPath) rmSync(this.#socketPath, { force: true });
  }
}
