import { callBuiltin } from '../builtins.js';
import type { EntrypointMeta } from '../decorators.js';
import { MethodNotFoundError, toWireError } from '../errors.js';
import { mapParams } from '../inspect.js';
import type { RpcRequest, RpcResponse } from '../rpc/transport.js';
import { isThenable } from '../sync.js';
import type { ServiceContainer } from './container.js';

type RpcEp = Extract<EntrypointMeta, { kind: 'rpc' }>;

/**
 * The RPC entrypoints of one service: finds the method a request names
 * (or a `svc.*` built-in), maps and checks its parameters, runs it as a
 * worker and turns the outcome into a response.
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
  handle(request: RpcRequest): RpcResponse | Promise<RpcResponse> {
    const container = this.#container;
    try {
      if (request.method.startsWith('svc.')) {
        return callBuiltin(container, request.method.slice(4), request.params).then(
          okResponse,
          errorResponse,
        );
      }
      const ep = this.#methods.get(request.method);
      if (!ep) {
        throw new MethodNotFoundError(`${container.name} has no RPC method "${request.method}"`, {
          data: { service: container.name, method: request.method },
        });
      }
      const params = mapParams(container, ep, request);
      if (isThenable(params)) {
        // An asynchronous schema: the one path that waits before the worker starts.
        return Promise.resolve(params)
          .then((p) => container.dispatch(ep, [p], request.headers))
          .then(okResponse, errorResponse);
      }
      const result = container.dispatch(ep, [params], request.headers);
      return isThenable(result)
        ? Promise.resolve(result).then(okResponse, errorResponse)
        : okResponse(result);
    } catch (err) {
      return errorResponse(err);
    }
  }
}

const okResponse = (result: unknown): RpcResponse => ({ ok: true, result });
const errorResponse = (err: unknown): RpcResponse => ({ ok: false, error: toWireError(err) });
