import type { CancelToken } from '../cancel.js';
import type { CallHeaders } from '../context-headers.js';
import { UsageError, toWireError, type WireError } from '../errors.js';

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
  /**
   * Set by the receiving transport: milliseconds the caller still waits,
   * counted from when the request arrived (what remained of the caller's
   * deadline when it sent the request: clocks need not agree). Absent when
   * the caller said nothing (a Nameko peer).
   */
  timeout?: number;
  /**
   * Set by the receiving transport: aborted when the caller cancels the
   * call or goes away (its connection closes). Only direct transports can
   * tell; over AMQP only the deadline stops a worker.
   */
  cancel?: CancelToken;
  /** the caller reads the method's items as a stream (direct transports only) */
  stream?: boolean;
}

export type RpcResponse = { ok: true; result: unknown } | { ok: false; error: WireError };

/**
 * The items of a streaming method, as a server hands them to its
 * transport: pulled one at a time, only as the reader's credit allows.
 */
export interface ItemSource {
  /**
   * The next item, or `done` with the stream's result (what the generator
   * returned) once it has ended; rejects with the method's error.
   */
  next(): Promise<IteratorResult<unknown, unknown>>;
  /**
   * Stops the producer before its end (the reader stopped, was cancelled,
   * went away, or the deadline passed): its generator's `return()` runs,
   * and with it its `finally` blocks. `why` says what stopped it, for the
   * worker's log record. Resolves once the producer has stopped; never
   * rejects.
   */
  return(why: string): Promise<void>;
}

/** The answer to a stream request (`request.stream`) of a streaming method. */
export interface RpcStreamAnswer {
  readonly ok: 'stream';
  readonly items: ItemSource;
}

/** What a handler answers: a response, or for a stream request the method's items. */
export type RpcAnswer = RpcResponse | RpcStreamAnswer;

/**
 * Runs a request; it never throws or rejects: failures come back as
 * `{ ok: false }`. A request answered synchronously returns its response
 * itself, without a promise.
 */
export type RpcHandler = (request: RpcRequest) => RpcAnswer | Promise<RpcAnswer>;

export interface RpcCallOptions {
  /**
   * milliseconds before the call fails with RpcTimeoutError; sent with the
   * request as what remains of the call's deadline
   */
  timeout: number;
  /** send to this endpoint instead of choosing an instance */
  address?: string;
  /**
   * Cancels the call: it rejects at once with the token's reason and, on
   * direct transports, the server is told to stop its worker.
   */
  cancel?: CancelToken;
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
   * away mid-call, the cancel token's reason when it is cancelled.
   */
  call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse>;
  /**
   * Calls a streaming method and reads its items, which the server
   * produces only as fast as they are read. The iterator ends (`done`,
   * with the stream's result) when the method has, throws the method's
   * error, and on `return()` tells the server to stop the producer. The
   * call's timeout covers the whole stream. Absent on transports that
   * cannot stream (AMQP).
   */
  stream?(request: RpcRequest, options: RpcCallOptions): AsyncIterator<unknown, unknown>;
  /**
   * Why calls cannot be served or made right now (the broker is out of
   * reach, or back but the transport not yet consuming its queues again),
   * or undefined when they can; the instance's `/readyz` reports it. A
   * short state, never an error's text (it names hosts); cheap, called on
   * every probe. Absent: always available.
   */
  unavailable?(): string | undefined;
  /** Stops serving and calling; pending calls fail with ConnectionLostError. */
  close(): Promise<void>;
}

/**
 * A handler's answer to a request that cannot stream: a stream answer here
 * is the runtime's mistake, stopped and answered with an error.
 */
export function plainAnswer(answer: RpcAnswer): RpcResponse {
  if (answer.ok !== 'stream') return answer;
  void answer.items.return('the transport cannot stream');
  return { ok: false, error: toWireError(new UsageError(STREAMS_NEED_DIRECT)) };
}

/** The longest deadline a request may carry: what a timer can wait (about 24 days). */
export const MAX_TIMEOUT_MS = 0x7fffffff;

/**
 * A request's timeout as received: undefined when it has none (absent or
 * null), the number clamped to what a timer can wait, or NaN when it is
 * not a finite number (the request is malformed).
 */
export function receivedTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) return NaN;
  return Math.min(Math.max(0, value), MAX_TIMEOUT_MS);
}

/** Why a stream cannot be had over this transport. */
export const STREAMS_NEED_DIRECT = 'streams need a direct transport (rpc: net or zmq)';
