import { ConnectionLostError, toWireError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import type { Serializer } from '../serializers/serializer.js';
import { isThenable } from '../sync.js';
import { PendingCalls } from './pending.js';
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
  readonly #pending = new PendingCalls<number, RpcResponse>();
  #endpoint: string | undefined;
  #nextId = 0;
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
    const id = ++this.#nextId;
    const answer = this.#pending.wait(
      id,
      options.timeout,
      request.service,
      request.method,
      undefined,
    );
    let response: RpcResponse | Promise<RpcResponse>;
    try {
      response = handler(wireRequest);
    } catch (err) {
      this.#pending.reject(id, err instanceof Error ? err : new Error(String(err)));
      return answer;
    }
    if (isThenable(response)) {
      response.then(
        (r) => this.#answer(id, r),
        (err: unknown) =>
          this.#pending.reject(id, err instanceof Error ? err : new Error(String(err))),
      );
    } else this.#answer(id, response);
    return answer;
  }

  /** Settles call `id` with a copy of `response` as the wire would carry it. */
  #answer(id: number, response: RpcResponse): void {
    if (this.#pending.get(id) === undefined) return;
    let copy: RpcResponse;
    try {
      copy = this.#serializer.decode(this.#serializer.encode(response)) as RpcResponse;
    } catch (err) {
      copy = { ok: false, error: toWireError(err) };
    }
    this.#pending.resolve(id, copy);
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#pending.failAll(new ConnectionLostError('the RPC transport is closed'));
    if (this.#endpoint) this.#store.servers.delete(this.#endpoint);
    this.#picker.close();
    return Promise.resolve();
  }
}
