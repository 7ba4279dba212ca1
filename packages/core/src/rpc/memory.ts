import { CancelToken } from '../cancel.js';
import { CancelledError, ConnectionLostError, fromWireError, toWireError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import type { Serializer } from '../serializers/serializer.js';
import { isThenable } from '../sync.js';
import { PendingCalls } from './pending.js';
import { InstancePicker } from './picker.js';
import { StreamPump, StreamReader, itemsOf } from './stream.js';
import {
  plainAnswer,
  type RpcAnswer,
  type RpcCallOptions,
  type RpcHandler,
  type RpcRequest,
  type RpcResponse,
  type RpcTransport,
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
 * RPC between simulated processes of one hub. Requests, replies and
 * streamed items go through the serializer, so what could not cross a
 * network fails here too; deadlines, cancellation and streams' flow
 * control work as on the direct transports.
 */
export class MemoryRpcTransport implements RpcTransport {
  readonly kind = 'memory';
  readonly #store: MemoryRpcStore;
  readonly #serializer: Serializer;
  readonly #picker: InstancePicker;
  readonly #pending = new PendingCalls<RpcResponse>();
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
    const { handler, wire, cancelled } = await this.#open(request, options, false);
    const id = ++this.#nextId;
    const answer = this.#pending.wait(
      id,
      options.timeout,
      request.service,
      request.method,
      undefined,
      options.cancel,
      cancelled,
    );
    // A call cancelled before it was made is not run.
    if (this.#pending.get(id))
      this.#run(handler, wire, id, (a) => this.#answer(id, plainAnswer(a)));
    return answer;
  }

  stream(request: RpcRequest, options: RpcCallOptions): AsyncIterator<unknown, unknown> {
    return this.#read(request, options);
  }

  /** A stream's items, pulled through the same flow control as on the direct transports. */
  async *#read(request: RpcRequest, options: RpcCallOptions): AsyncGenerator<unknown, unknown> {
    const { handler, wire, cancelled } = await this.#open(request, options, true);
    const id = ++this.#nextId;
    let pump: StreamPump | undefined;
    const reader = new StreamReader({
      credit: (n) => pump?.credit(n),
      stop: () => {
        this.#pending.reject(id, new CancelledError('the reader stopped'));
        cancelled();
      },
    });
    const { service, method } = request;
    this.#pending
      .wait(id, options.timeout, service, method, undefined, options.cancel, cancelled)
      .then(
        (r) => (r.ok ? reader.finish(r.result) : reader.fail(fromWireError(r.error))),
        (err: unknown) => reader.fail(err),
      );
    const answered = (answer: RpcAnswer) => {
      if (answer.ok !== 'stream') return this.#answer(id, answer);
      pump = new StreamPump(
        answer.items,
        {
          item: (value) => {
            if (!reader.push(this.#copy(value))) throw new Error('an item beyond the credit');
          },
          end: (response) => {
            if (response) this.#answer(id, response);
          },
        },
        { what: `${service}.${method}`, timeout: options.timeout, cancel: wire.cancel! },
      );
      pump.credit(reader.window);
    };
    // A stream cancelled before it was opened is not run.
    if (this.#pending.get(id)) this.#run(handler, wire, id, answered);
    return yield* itemsOf(reader);
  }

  /**
   * The handler of the instance a call goes to, and the request as it
   * would arrive there: copied through the serializer, with its deadline
   * and a cancel token of its own that `cancelled()` aborts.
   */
  async #open(
    request: RpcRequest,
    options: RpcCallOptions,
    stream: boolean,
  ): Promise<{ handler: RpcHandler; wire: RpcRequest; cancelled: () => void }> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const endpoint = options.address ?? (await this.#picker.pick(request.service));
    const handler = this.#store.servers.get(endpoint);
    if (!handler) throw new ConnectionLostError(`no instance listens at ${endpoint}`);
    const { service, method, params, headers, args } = request;
    const copied = { service, method, params, headers, ...(args ? { args } : {}) };
    const wire = this.#copy(copied) as RpcRequest;
    const cancel = new CancelToken();
    wire.cancel = cancel;
    wire.timeout = options.timeout;
    if (stream) wire.stream = true;
    return {
      handler,
      wire,
      cancelled: () => cancel.abort(new CancelledError('the caller cancelled the call')),
    };
  }

  /** Runs the handler and gives its answer to `then`; a handler that throws fails call `id`. */
  #run(handler: RpcHandler, wire: RpcRequest, id: number, then: (answer: RpcAnswer) => void): void {
    let answer: RpcAnswer | Promise<RpcAnswer>;
    try {
      answer = handler(wire);
    } catch (err) {
      this.#pending.reject(id, err instanceof Error ? err : new Error(String(err)));
      return;
    }
    if (isThenable(answer)) {
      answer.then(then, (err: unknown) =>
        this.#pending.reject(id, err instanceof Error ? err : new Error(String(err))),
      );
    } else then(answer);
  }

  /** Settles call `id` with a copy of `response` as the wire would carry it. */
  #answer(id: number, response: RpcResponse): void {
    if (this.#pending.get(id) === undefined) return;
    let copy: RpcResponse;
    try {
      copy = this.#copy(response) as RpcResponse;
    } catch (err) {
      copy = { ok: false, error: toWireError(err) };
    }
    this.#pending.resolve(id, copy);
  }

  #copy(value: unknown): unknown {
    return this.#serializer.decode(this.#serializer.encode(value));
  }

  close(): Promise<void> {
    this.#closed = true;
    this.#pending.failAll(new ConnectionLostError('the RPC transport is closed'));
    if (this.#endpoint) this.#store.servers.delete(this.#endpoint);
    this.#picker.close();
    return Promise.resolve();
  }
}
