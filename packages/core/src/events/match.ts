import type { EventMessage, SubscriptionSpec } from './transport.js';

/** Whether a subscription wants an event: same type, and same source unless it takes any. */
export function subscriptionMatches(
  spec: Pick<SubscriptionSpec, 'type' | 'source'>,
  event: Pick<EventMessage, 'type' | 'source'>,
): boolean {
  return spec.type === event.type && (spec.source === undefined || spec.source === event.source);
}

/**
 * The delivery groups of an event: within one group exactly one member gets
 * it. Pool handlers group by (service, handler), singleton handlers by
 * (type, source), and every broadcast member is a group of its own.
 */
export function deliveryGroup(spec: SubscriptionSpec, memberId: string): string {
  switch (spec.mode) {
    case 'pool':
      return `pool\u0000${spec.service}\u0000${spec.handler}`;
    case 'singleton':
      return `singleton\u0000${spec.type}\u0000${spec.source ?? '*'}`;
    case 'broadcast':
      return `broadcast\u0000${spec.service}\u0000${spec.handler}\u0000${memberId}`;
  }
}
