import type { BackendContext } from '../backends.js';
import { ConfigError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import { schemeOf } from '../registry/index.js';
import type { EventTransport } from './transport.js';

export type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './transport.js';
export {
  ALL_EVENTS_EXCHANGE,
  AmqpEventTransport,
  delayQueueName,
  eventExchange,
  eventQueueName,
  type AmqpEventOptions,
} from './amqp.js';
export { MemoryEventStore, MemoryEventTransport } from './memory.js';
export { deliveryGroup, subscriptionMatches } from './match.js';
export { LocalEventTransport, MAX_EVENT_DELAY_MS, type LocalEventOptions } from './local.js';

/**
 * Resolves an event transport from its config value: `local` (embedded,
 * over ZeroMQ, found through the registry) or `amqp://...` (RabbitMQ).
 */
export async function createEventTransport(
  url: string,
  registry: Registry,
  ctx: BackendContext,
): Promise<EventTransport> {
  switch (schemeOf(url)) {
    case 'local': {
      const { LocalEventTransport } = await import('./local.js');
      return LocalEventTransport.create(registry, ctx);
    }
    case 'amqp':
    case 'amqps': {
      const { AmqpEventTransport } = await import('./amqp.js');
      return new AmqpEventTransport(url, { log: ctx.log.child({ backend: 'events' }) });
    }
    default:
      throw new ConfigError(`unknown events backend "${url}": expected "local" or "amqp://..."`);
  }
}
