import { RemoteError, SvcError } from '@svc/core';

/** Exit status of a user's mistake (bad argument, bad config, unknown service or method). */
export const EXIT_USAGE = 2;
/** Exit status of a failure (a remote error, a timeout, a bug). */
export const EXIT_FAILURE = 1;

const USER_MISTAKES = new Set([
  'SVC_ERR_USAGE',
  'SVC_ERR_CONFIG',
  'SVC_ERR_UNKNOWN_SERVICE',
  'SVC_ERR_METHOD_NOT_FOUND',
  'SVC_ERR_VALIDATION',
  'SVC_ERR_INCORRECT_SIGNATURE',
]);

/**
 * The one top-level handler: a user's mistake is one clear line (exit 2),
 * an error from the cluster is its type and message (exit 1), and anything
 * else is a bug, printed with its stack (exit 1).
 */
export function reportError(err: unknown, write: (line: string) => void): number {
  if (err instanceof RemoteError) {
    const code = err.remoteCode !== RemoteError.code ? ` (${err.remoteCode})` : '';
    write(`svc: remote error ${err.remoteType}${code}: ${err.remoteMessage}`);
    return EXIT_FAILURE;
  }
  if (err instanceof SvcError) {
    write(`svc: ${err.message}`);
    return USER_MISTAKES.has(err.code) ? EXIT_USAGE : EXIT_FAILURE;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  write(`svc: unexpected error (a bug; please report it):\n${stack}`);
  return EXIT_FAILURE;
}
