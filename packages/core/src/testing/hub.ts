import type { Backends } from '../backends.js';
import { MemoryEventStore, MemoryEventTransport } from '../events/memory.js';
import { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import { MemoryRpcStore, MemoryRpcTransport } from '../rpc/memory.js';

/**
 * An in-memory cluster: registry, RPC and events shared by the simulated
 * processes made with {@link MemoryHub.connect}. Make one per test; there
 * is no global hub.
 */
export class MemoryHub {
  readonly registryStore = new MemoryRegistryStore();
  readonly rpcStore = new MemoryRpcStore();
  readonly eventStore = new MemoryEventStore();
  readonly serializer = new MsgpackSerializer();

  /** The backends of one more simulated process on this hub. */
  connect(): Backends {
    const registry = new MemoryRegistry(this.registryStore);
    return {
      registry,
      rpc: new MemoryRpcTransport(this.rpcStore, registry, this.serializer),
      events: new MemoryEventTransport(this.eventStore, this.serializer),
    };
  }
}
