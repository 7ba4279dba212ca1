import type { EntrypointMeta } from '../decorators.js';
import { ConnectionLostError, SvcError, UnknownServiceError } from '../errors.js';
import type { InstanceRecord } from '../registry/registry.js';

/**
 * A request that provably never reached its instance (the connection was
 * refused, or was lost before the request was written to it): sending it
 * to another instance is safe. A call fails with it when every instance
 * tried refused it (instances just killed, still listed): over HTTP, the
 * service is unavailable (503), as when it has no instance at all.
 */
export class NotDeliveredError extends ConnectionLostError {
  static override retryable = true;
  static override httpStatus = 503;
}

/**
 * Whether a call failed for want of an instance to run it: none is live
 * (UnknownServiceError), or every one tried refused it before it was
 * delivered (NotDeliveredError). Nothing ran; trying again later is safe.
 * An `@http` handler failing with it answers 503 with `Retry-After`, logged
 * at WARN. Only as this process raised it: a nested call's NotDeliveredError
 * reaches its caller as a ConnectionLostError, which may have run.
 */
export function noInstance(error: unknown): error is UnknownServiceError | NotDeliveredError {
  return error instanceof UnknownServiceError || error instanceof NotDeliveredError;
}

/**
 * The registry metadata key under which an instance lists the RPC methods
 * of its service that are safe to repeat (`@rpc({ idempotent: true })`).
 */
export const IDEMPOTENT_METADATA = 'idempotent';

/**
 * What a service's registry record says of its idempotent methods: their
 * RPC names under `metadata.idempotent`, nothing when it has none.
 */
export function idempotentMetadata(entrypoints: readonly EntrypointMeta[]): {
  metadata?: Record<string, unknown>;
} {
  const names = entrypoints.flatMap((ep) =>
    ep.kind === 'rpc' && ep.options.idempotent === true ? [ep.name] : [],
  );
  return names.length === 0 ? {} : { metadata: { [IDEMPOTENT_METADATA]: names } };
}

/** Attempts of one call at most, the first included. */
export const MAX_ATTEMPTS = 4;

/**
 * The methods every one of a service's listed instances marks idempotent:
 * during a rolling deploy one version may say so and another not, and a
 * call is repeated only when all agree.
 */
export function idempotentMethods(records: readonly InstanceRecord[]): ReadonlySet<string> {
  let out: Set<string> | undefined;
  for (const r of records) {
    const listed = r.metadata?.[IDEMPOTENT_METADATA];
    const mine = new Set(
      Array.isArray(listed) ? listed.filter((m): m is string => typeof m === 'string') : [],
    );
    out = out === undefined ? mine : new Set([...out].filter((m) => mine.has(m)));
    if (out.size === 0) return out;
  }
  return out ?? new Set();
}

/**
 * What a direct transport may do with a failed attempt of a call (an error
 * it raised itself, never an error answer, which may come from a nested call):
 * - `elsewhere`: the request never reached the instance, or the instance
 *   refused it before running it (`retryable`): send it to another one;
 * - `repeat`: it may have run, but the instance died with it and the
 *   method is idempotent: send it again, to another one;
 * - `fail`: give the caller the error (it may have run: at most once).
 */
export function afterFailure(
  failure: unknown,
  idempotent: boolean,
): 'elsewhere' | 'repeat' | 'fail' {
  if (failure instanceof SvcError && failure.retryable) return 'elsewhere';
  if (failure instanceof ConnectionLostError) return idempotent ? 'repeat' : 'fail';
  return 'fail';
}
