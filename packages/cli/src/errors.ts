import { ConfigError, SvcError, UsageError } from '@svc/core';

/** Exit status of a user's mistake (bad argument, bad config, unknown service). */
export const EXIT_USAGE = 2;
/** Exit status of a failure (a remote error, a bug: printed with its stack). */
export const EXIT_FAILURE = 1;

/**
 * The one top-level handler: a user's mistake is one clear line (exit 2),
 * an error from the cluster is its type and message (exit 1), and anything
 * else is a bug, printed with its stack (exit 1).
 */
export function reportError(err: unknown, write: (line: string) => void): number {
  if (err instanceof UsageError || err instanceof ConfigError) {
    write(`svc: ${err.message}`);
    return EXIT_USAGE;
  }
  if (err instanceof SvcError) {
    write(`svc: ${err.name} (${err.code}): ${err.message}`);
    return err.code === 'SVC_ERR_UNKNOWN_SERVICE' ||
      err.code === 'SVC_ERR_METHOD_NOT_FOUND' ||
      err.code === 'SVC_ERR_VALIDATION'
      ? EXIT_USAGE
      : EXIT_FAILURE;
  }
  const stack = err instanceof Error ? (err.stack ?? err.message) : String(err);
  write(`svc: unexpected error (a bug; please report it):\n${stack}`);
  return EXIT_FAILURE;
}
