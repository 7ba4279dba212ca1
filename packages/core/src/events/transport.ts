import type { CallHeaders } from '../context-headers.js';
import type { SubscriptionMode } from '../registry/registry.js';

export interface EventMessage {
  /** unique id of this event (for logs and de-duplication) */
  id: string;
  /** event type = routing key */
  type: string;
  /** name of the emitting service (or of the tool that emitted it) */
  source: string;
  body: unknown;
  headers: CallHeaders;
}

export interface SubscriptionSpec {
  /** subscribing service */
  service: string;
  /** handler method name */
  handler: string;
  type: string;
  /** only events from this source; absent = any source */
  source?: string;
  mode: SubscriptionMode;
  /** at most this many events of this subscription run at once (AMQP prefetch) */
  prefetch?: number;
}

/**
 * Resolves when the event is handled (the transport then acks it); rejects
 * when the handler gave up after its retries (the transport then
 * dead-letters or drops it, as its README section says).
 */
export type EventHandlerFn = (event: EventMessage) => Promise<void>;

export interface PublishOptions {
  /** deliver after this many milliseconds */
  delay?: number;
}

/** Publishes events and delivers them to subscribers. */
export interface EventTransport {
  readonly kind: string;
  /** Resolves when the event is accepted (for AMQP: confirmed by the broker). */
  publish(event: EventMessage, options?: PublishOptions): Promise<void>;
  /** Declares a subscription; call before start(). */
  subscribe(spec: SubscriptionSpec, handler: EventHandlerFn): Promise<void>;
  /** Starts delivering; returns endpoints to publish in the registry (`{ events: 'tcp://...' }`). */
  start(): Promise<Record<string, string>>;
  /**
   * Why events cannot be published or delivered right now (the broker is
   * out of reach, or back but the transport not yet consuming its queues
   * again), or undefined when they can; the instance's `/readyz` reports
   * it. A short state, never an error's text (it names hosts); cheap,
   * called on every probe. Absent: always available.
   */
  unavailable?(): string | undefined;
  /** Stops consuming (in-flight handlers finish or are redelivered) and closes. */
  close(): Promise<void>;
}
