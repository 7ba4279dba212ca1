/** How an event handler shares events with its peers (NAMEKO-WIRE.md §1.2). */
export type SubscriptionMode = 'pool' | 'broadcast' | 'singleton';

/** An event subscription as published in the registry. */
export interface SubscriptionInfo {
  /** event type (the routing key) */
  type: string;
  /** source service the handler is bound to; absent = any source (lymph style) */
  source?: string;
  mode: SubscriptionMode;
  /** handler method name */
  handler: string;
}

/** One live instance of one service, as the registry holds it. */
export interface InstanceRecord {
  /** instance id, unique within the cluster (hex) */
  id: string;
  service: string;
  host: string;
  pid: number;
  /** epoch milliseconds */
  startedAt: number;
  version?: string;
  /** transport endpoints by role: `rpc`, `events`, `logs`, `http`... */
  endpoints: Record<string, string>;
  subscriptions: SubscriptionInfo[];
  metadata?: Record<string, unknown>;
}

export type Unsubscribe = () => void;

/**
 * Where instances announce themselves and find each other. Implementations:
 * `memory` (one process), `local` (a directory on this machine), `zookeeper`.
 */
export interface Registry {
  readonly kind: string;
  /** Adds or replaces the record of (service, id). */
  register(record: InstanceRecord): Promise<void>;
  /** Removes the record of (service, id); removing an absent record is not an error. */
  unregister(service: string, id: string): Promise<void>;
  /** Live instances of one service (empty when none). */
  lookup(service: string): Promise<InstanceRecord[]>;
  /** Every live instance of every service. */
  list(): Promise<InstanceRecord[]>;
  /**
   * Calls `onChange` with the service's live instances whenever they change
   * (and once soon after the call). Changes are seen within a second.
   */
  watch(service: string, onChange: (instances: InstanceRecord[]) => void): Unsubscribe;
  /**
   * Why the registry cannot serve right now (its server is out of reach),
   * or undefined when it can; the instance's `/readyz` reports it. Absent:
   * always available.
   */
  unavailable?(): string | undefined;
  close(): Promise<void>;
}
