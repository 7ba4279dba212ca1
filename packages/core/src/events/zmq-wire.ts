import { MalformedRequestError } from '../errors.js';
import type { InstanceRecord } from '../registry/registry.js';
import { isObject, parseCallHeaders } from '../zmq/wire-check.js';
import { deliveryGroup, subscriptionMatches } from './match.js';
import type { EventMessage, SubscriptionSpec } from './transport.js';

/*
 * The local event transport's routing and wire body. A delivery travels as
 * the body of a zmq-link request; the receiver answers `{ ok: true }` once
 * it holds the event (receipt, not handling) or `{ ok: false, reason }`
 * when it will not take it (stopping, or no such subscription here).
 */

/** Longest delay a timer can hold (about 24.8 days). */
export const MAX_EVENT_DELAY_MS = 2 ** 31 - 1;

/** One instance's handler that may receive an event. */
export interface Member {
  endpoint: string;
  instance: string;
  service: string;
  handler: string;
}

/** What a publisher sends to a receiver: which of its handlers take the event, and when. */
export interface Delivery {
  event: EventMessage;
  targets: Array<{ service: string; handler: string }>;
  /** milliseconds the receiver waits before running the handlers */
  delay: number;
}

/** The delivery groups of an event among the registry's records, members in a stable order. */
export function route(records: InstanceRecord[], event: EventMessage): Map<string, Member[]> {
  const groups = new Map<string, Member[]>();
  for (const record of records) {
    const endpoint = record.endpoints['events'];
    if (!endpoint) continue;
    for (const sub of record.subscriptions) {
      const spec: SubscriptionSpec = {
        service: record.service,
        handler: sub.handler,
        type: sub.type,
        mode: sub.mode,
      };
      if (sub.source !== undefined) spec.source = sub.source;
      if (!subscriptionMatches(spec, event)) continue;
      const group = deliveryGroup(spec, record.id);
      const member = {
        endpoint,
        instance: record.id,
        service: record.service,
        handler: sub.handler,
      };
      const list = groups.get(group);
      if (!list) groups.set(group, [member]);
      else if (!list.some((m) => m.endpoint === endpoint && m.handler === member.handler)) {
        list.push(member);
      }
    }
  }
  for (const list of groups.values()) {
    list.sort((a, b) => (a.instance < b.instance ? -1 : a.instance > b.instance ? 1 : 0));
  }
  return groups;
}

export function parseDelivery(body: unknown): Delivery {
  if (!isObject(body)) throw new MalformedRequestError('event delivery is not an object');
  const { event, targets, delay } = body;
  if (!isObject(event)) throw new MalformedRequestError('event delivery lacks an event');
  const { id, type, source } = event;
  if (typeof id !== 'string' || typeof type !== 'string' || typeof source !== 'string') {
    throw new MalformedRequestError('event lacks an id, type or source');
  }
  if (
    !Array.isArray(targets) ||
    targets.length === 0 ||
    targets.length > 1000 ||
    !targets.every(
      (t) => isObject(t) && typeof t['service'] === 'string' && typeof t['handler'] === 'string',
    )
  ) {
    throw new MalformedRequestError('event delivery targets are not [{ service, handler }]');
  }
  if (typeof delay !== 'number' || !(delay >= 0 && delay <= MAX_EVENT_DELAY_MS)) {
    throw new MalformedRequestError('event delivery delay is not a number of milliseconds');
  }
  return {
    event: { id, type, source, body: event['body'], headers: parseCallHeaders(event['headers']) },
    targets: targets as Array<{ service: string; handler: string }>,
    delay,
  };
}
