import type { CallHeaders } from '../context-headers.js';
import type { WireError } from '../errors.js';

export interface RpcRequest {
  service: string;
  method: string;
  /** the parameters object (keyword arguments) */
  params: unknown;
  /**
   * Positional arguments, from peers that send them (Nameko's `args`); the
   * runtime maps them onto the method's declared parameter order.
   */
  args?: unknown[];
  headers: CallHeaders;
}

export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: WireError };

/**
 * Runs a request; it never throws or rejects: failures come back as
 * `{ ok: false }`. A request answered synchronously returns its response
 * itself, without a promise.
 */
export type RpcHandler = (request: RpcRequest) => RpcResponse | Promise<RpcResponse>;

export interface RpcCallOptions {
  /** milliseconds before the call fails with RpcTimeoutError */
  timeout: number;
  /** send to this endpoint instead of choosing an instance */
  address?: string;
}

/**
 * Moves RPC requests and replies. A process has one; it serves every service
 * of the process and calls any service of the cluster.
 */
export interface RpcTransport {
  readonly kind: string;
  /**
   * Starts serving the named services with `handler`; returns the endpoints
   * to publish in the registry (`{ rpc: 'tcp://127.0.0.1:41234' }`), empty
   * when callers need none (AMQP).
   */
  listen(services: readonly string[], handler: RpcHandler): Promise<Record<string, string>>;
  /**
   * Sends one request and resolves with its response. Rejects with
   * UnknownServiceError when the service has no live instance,
   * RpcTimeoutError on timeout, ConnectionLostError when the instance went
   * away mid-call.
   */
  call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse>;
  /** Stops serving and calling; pending calls fail with ConnectionLostError. */
  close(): Promise<void>;
}
