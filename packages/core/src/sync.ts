// Helpers of the hot paths that answer synchronously when they can (the
// worker path, the HTTP entrypoint, the net transport's server side).

/** Whether `value` is a promise or another thenable, to be awaited; anything else is a result. */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null &&
    (typeof value === 'object' || typeof value === 'function') &&
    typeof (value as { then?: unknown }).then === 'function'
  );
}

/** Milliseconds since `started` (a `performance.now()`), to the microsecond. */
export function elapsedMs(started: number): number {
  return Math.round((performance.now() - started) * 1000) / 1000;
}
