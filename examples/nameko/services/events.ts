import { RPC, Service, event, inject, rpc, t } from '@svc/core';
import { LocalCache } from './providers/local-cache.js';

/** Nameko's example 3, the emitting side. */
export class ServiceA extends Service {
  static override readonly serviceName = 'ServiceA';
  declare [RPC]: 'emit_an_event';

  /** Emits my_event_type with the given payload */
  @rpc({ params: { payload: t.optional(t.any('event body')) } })
  async emit_an_event({ payload = 'payload' }: { payload?: unknown }) {
    await this.emit('my_event_type', payload);
    return 'emitted';
  }
}

/** Nameko's example 3, the handling side. */
export class ServiceB extends Service {
  static override readonly serviceName = 'ServiceB';
  declare [RPC]: 'last_received';

  cache = inject(new LocalCache());

  /** Handles my_event_type emitted by ServiceA only (Nameko's event_handler('ServiceA', 'my_event_type')) */
  @event('my_event_type', { source: 'ServiceA' })
  handle_an_event(payload: unknown) {
    this.log.info(`service b received ${JSON.stringify(payload)}`);
    this.cache.set('last_received', payload);
  }

  /** The payload this instance handled last (from its in-process cache) */
  @rpc() last_received() {
    return this.cache.get('last_received') ?? null;
  }

  /** Every instance clears its in-process cache (a broadcast: each instance gets the event) */
  @event('cache_invalidated', { broadcast: true })
  invalidate_cache() {
    const dropped = this.cache.size;
    this.cache.clear();
    this.log.info(`cache cleared (${dropped} entries dropped)`);
  }
}
