import { RemoteError, SvcError } from '@svc/core';
import { escapeControl } from '@svc/core/internal';

/** Exit status of a user's mistake (bad argument, bad config, unknown service or method). */
export const EXIT_USAGE = 2;
/** Exit status of a failure (a remote error, a timeout, a bug). */
export const EXIT_FAILURE = 1;

/**
 * The one top-level handler: a user's mistake (an error whose class says
 * `userMistake`) is one clear line (exit 2), any other svc error or an
 * error from the cluster is its type and message (exit 1), and anything
 * else is a bug, printed with its stack (exit 1).
 */
export function reportError(err: unknown, write: (line: string) => void): number {
  if (err instanceof RemoteError) {
    // What a remote says may carry what its caller sent (a name in a message): shown, not acted on.
    const code = err.remoteCode !== RemoteError.code ? ` (${escapeControl(err.remoteCode)})` : '';
    write(
      `svc: remote error ${escapeControl(err.remoteType)}${code}: ${escapeControl(err.remoteMessage)}`,
    );
    return EXIT_FAILURE;
  }
  if (err instanceof SvcError) {
    write(`svc: ${err.message}`);
    return err.userMistake ? EXIT_USAGE : EXIT_FAILURE;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  write(`svc: unexpected error (a bug; please report it):\n${stack}`);
  return EXIT_FAILURE;
}
