import { Backoff } from '../backoff.js';
import type { EntrypointMeta, RetryPolicy } from '../decorators.js';
import { ContainerStoppedError } from '../errors.js';
import type { EventMessage, SubscriptionSpec } from '../events/transport.js';
import type { ServiceContainer } from './container.js';

type EventEp = Extract<EntrypointMeta, { kind: 'event' }>;

/**
 * Retries when an event handler throws and declares no policy: 3 tries,
 * about 0.5 s then 1 s apart (each wait up to a fifth shorter, at random).
 */
export const DEFAULT_EVENT_RETRY: RetryPolicy = {
  attempts: 3,
  delay: 500,
  backoff: 2,
  maxDelay: 30_000,
};

/** One event handler's subscription, and what the event transport calls with each event. */
export interface EventSubscription {
  spec: SubscriptionSpec;
  handle: (event: EventMessage) => Promise<void>;
}

/** The subscriptions of a service's event handlers, each with its handler and retry policy. */
export function eventSubscriptions(container: ServiceContainer): EventSubscription[] {
  return container.entrypoints.flatMap((ep) => {
    if (ep.kind !== 'event') return [];
    const spec: SubscriptionSpec = {
      service: container.name,
      handler: ep.method,
      type: ep.type,
      mode: ep.options.broadcast ? 'broadcast' : ep.options.singleton ? 'singleton' : 'pool',
      prefetch: container.options.maxWorkers,
      ...(ep.options.source === undefined ? {} : { source: ep.options.source }),
    };
    return [{ spec, handle: (event: EventMessage) => handleEvent(container, ep, event) }];
  });
}

/**
 * Runs the handler of one event as a worker, again after a wait when it
 * throws, as its retry policy says. Rejects once it gives up, so that the
 * transport can dead-letter or drop the event; a stopping container gives
 * up at once, and the transport hands the event to another instance.
 */
async function handleEvent(
  container: ServiceContainer,
  ep: EventEp,
  event: EventMessage,
): Promise<void> {
  const policy = ep.options.retry ?? DEFAULT_EVENT_RETRY;
  const attempts = Math.max(1, Math.floor(policy.attempts));
  // Made on the first failure: most events are handled at the first try.
  let backoff: Backoff | undefined;
  // The lines below are written between workers, outside any worker
  // context: they name the event's trace themselves, so `svc tail --trace` shows them.
  const trace = (): Record<string, unknown> => ({
    traceId: event.headers.traceId,
    event: event.id,
    entrypoint: `${container.name}.${ep.method}`,
  });
  for (let attempt = 1; ; attempt++) {
    try {
      await container.spawnWorker(ep, [event.body, event], event.headers);
      return;
    } catch (err) {
      const stopped = err instanceof ContainerStoppedError;
      if (stopped || attempt >= attempts || container.state !== 'started') {
        if (!stopped) {
          container.log.error(
            `giving up on event ${event.type} (${event.id}) after ${attempt} tries`,
            trace(),
          );
        }
        throw err;
      }
      backoff ??= new Backoff({
        initialMs: policy.delay,
        factor: policy.backoff ?? 2,
        maxMs: policy.maxDelay ?? 30_000,
      });
      const wait = backoff.next();
      container.log.warn(
        `retrying event ${event.type} (${event.id}) in ${wait} ms (try ${attempt + 1} of ${attempts})`,
        trace(),
      );
      await new Promise((r) => setTimeout(r, wait));
    }
  }
}
