import { callBuiltin } from '../builtins.js';
import type { EntrypointMeta } from '../decorators.js';
import { DeadlineExceededError, MethodNotFoundError, UsageError, toWireError } from '../errors.js';
import { mapParams } from '../inspect.js';
import type {
  ItemSource,
  RpcAnswer,
  RpcRequest,
  RpcResponse,
  RpcStreamAnswer,
} from '../rpc/transport.js';
import { isThenable } from '../sync.js';
import type { ServiceContainer } from './container.js';

type RpcEp = Extract<EntrypointMeta, { kind: 'rpc' }>;

/**
 * The RPC entrypoints of one service: finds the method a request names
 * (or a `svc.*` built-in), maps and checks its parameters, runs it as a
 * worker and turns the outcome into a response, or for a streaming method
 * into its items.
 */
export class RpcEntrypoints {
  readonly #container: ServiceContainer;
  readonly #methods = new Map<string, RpcEp>();

  constructor(container: ServiceContainer) {
    this.#container = container;
    for (const ep of container.entrypoints) {
      if (ep.kind !== 'rpc') continue;
      if (ep.name.startsWith('svc.'))
        throw new TypeError(`${container.name}: RPC names starting with "svc." are reserved`);
      if (this.#methods.has(ep.name))
        throw new TypeError(`${container.name}: two RPC methods are named "${ep.name}"`);
      this.#methods.set(ep.name, ep);
    }
  }

  /**
   * Answers one request; never rejects. A worker that finished
   * synchronously is answered without a promise: with a worker context in
   * the process every promise runs AsyncLocalStorage's hooks, so the hot
   * path makes as few as it can.
   */
  handle(request: RpcRequest): RpcAnswer | Promise<RpcAnswer> {
    const container = this.#container;
    try {
      if (request.method.startsWith('svc.')) {
        return callBuiltin(
          container,
          request.method.slice(4),
          request.params,
          request.headers,
        ).then(okResponse, errorResponse);
      }
      const ep = this.#methods.get(request.method);
      if (!ep) {
        throw new MethodNotFoundError(`${container.name} has no RPC method "${request.method}"`, {
          data: { service: container.name, method: request.method },
        });
      }
      if (request.timeout !== undefined && request.timeout <= 0) {
        const name = `${container.name}.${ep.name}`;
        container.log.warn(`rpc ${name} not started: its deadline had passed when it arrived`, {
          entrypoint: name,
        });
        throw new DeadlineExceededError(`${name} did not start: its deadline had passed`);
      }
      if ((ep.stream === true) !== (request.stream === true)) {
        throw streamMismatch(container.name, ep);
      }
      const params = mapParams(container, ep, request);
      if (isThenable(params)) {
        // An asynchronous schema: the one path that waits before the worker starts.
        const started = Promise.resolve(params).then((p) =>
          container.dispatch(ep, [p], request.headers, request),
        );
        return ep.stream
          ? started.then(streamAnswer, errorResponse)
          : started.then(okResponse, errorResponse);
      }
      const result = container.dispatch(ep, [params], request.headers, request);
      if (ep.stream) {
        return isThenable(result)
          ? Promise.resolve(result).then(streamAnswer, errorResponse)
          : streamAnswer(result);
      }
      return isThenable(result)
        ? Promise.resolve(result).then(okResponse, errorResponse)
        : okResponse(result);
    } catch (err) {
      return errorResponse(err);
    }
  }
}

/** Why a request cannot be answered as it asks: a stream of a plain method, or the other way round. */
function streamMismatch(service: string, ep: RpcEp): UsageError {
  return ep.stream
    ? new UsageError(
        `${service}.${ep.name} streams its results: read it with .stream(), over a direct transport (rpc: net or zmq)`,
        { data: { stream: true } },
      )
    : new UsageError(
        `${service}.${ep.name} does not stream its results: call it without .stream()`,
        { data: { stream: false } },
      );
}

const okResponse = (result: unknown): RpcResponse => ({ ok: true, result });
const errorResponse = (err: unknown): RpcResponse => ({ ok: false, error: toWireError(err) });
const streamAnswer = (items: unknown): RpcStreamAnswer => ({
  ok: 'stream',
  items: items as ItemSource,
});
