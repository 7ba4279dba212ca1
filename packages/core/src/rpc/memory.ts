import { ConnectionLostError, RpcTimeoutError, toWireError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import type { Serializer } from '../serializers/serializer.js';
import { InstancePicker } from './picker.js';
import type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './transport.js';

/** The RPC side of an in-memory hub: endpoint → handler of each simulated process. */
export class MemoryRpcStore {
  readonly servers = new Map<string, RpcHandler>();
  #next = 0;
  newEndpoint(): string {
    return `memory://rpc/${++this.#next}`;
  }
}

/**
 * RPC between simulated processes of one hub. Requests and replies go
 * through the serializer both ways, so what could not cross a network fails
 * here too.
 */
export class MemoryRpcTransport implements RpcTransport {
  readonly kind = 'memory';
  readonly #store: MemoryRpcStore;
  readonly #serializer: Serializer;
  readonly #picker: InstancePicker;
  #endpoint: string | undefined;
  #closed = false;

  constructor(store: MemoryRpcStore, registry: Registry, serializer: Serializer) {
    this.#store = store;
    this.#serializer = serializer;
    this.#picker = new InstancePicker(registry);
  }

  listen(_services: readonly string[], handler: RpcHandler): Promise<Record<string, string>> {
    this.#endpoint ??= this.#store.newEndpoint();
    this.#store.servers.set(this.#endpoint, handler);
    return Promise.resolve({ rpc: this.#endpoint });
  }

  async call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const endpoint = options.address ?? (await this.#picker.pick(request.service));
    const handler = this.#store.servers.get(endpoint);
    if (!handler) throw new ConnectionLostError(`no instance listens at ${endpoint}`);
    const wireRequest = this.#serializer.decode(this.#serializer.encode(request)) as RpcRequest;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new RpcTimeoutError(
              `${request.service}.${request.method} did not answer within ${options.timeout} ms`,
            ),
          ),
        options.timeout,
      );
    });
    try {
      const response = await Promise.race([handler(wireRequest), timeout]);
      try {
        return this.#serializer.decode(this.#serializer.encode(response)) as RpcResponse;
      } catch (err) {
        return { ok: false, error: toWireError(err) };
      }
    } finally {
      clearTimeout(timer);
    }
  }

  close(): Promise<void> {
    this.#closed = true;
    if (this.#endpoint) this.#store.servers.delete(this.#endpoint);
    this.#picker.close();
    return Promise.resolve();
  }
}
