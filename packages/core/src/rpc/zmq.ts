import { advertiseHostOf } from '../advertise.js';
import type { BackendContext } from '../backends.js';
import type { CancelToken } from '../cancel.js';
import {
  ConnectionLostError,
  ErrorCode,
  MalformedRequestError,
  RpcTimeoutError,
  SvcError,
  UnknownServiceError,
  fromWireError,
  toWireError,
  type WireError,
} from '../errors.js';
import { limitsOf } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { Registry } from '../registry/registry.js';
import { MsgpackSerializer } from '../serializers/msgpack.js';
import type { Serializer } from '../serializers/serializer.js';
import { isThenable } from '../sync.js';
import { NotDeliveredError } from './failover.js';
import { InstancePicker } from './picker.js';
import { itemsOf } from './stream.js';
import { isObject, parseCallHeaders } from '../zmq/wire-check.js';
import {
  receivedTimeout,
  type RpcAnswer,
  type RpcCallOptions,
  type RpcHandler,
  type RpcRequest,
  type RpcResponse,
  type RpcTransport,
} from './transport.js';
import { ClusterAuth } from '../security/auth.js';
import { BadFrames, loadZmq } from '../zmq/link.js';
import { ZmqRequester } from '../zmq/requester.js';
import { StreamReply, ZmqResponder, type RequestHandler } from '../zmq/responder.js';

export interface ZmqRpcOptions {
  serializer?: Serializer;
}

/** Extra attempts on other instances for a request that never left this process. */
const UNDELIVERED_RETRIES = 2;

/**
 * RPC over ZeroMQ with MessagePack, as lymph does it: each instance binds a
 * ROUTER on the bind host and publishes its endpoint in the registry;
 * callers keep one DEALER per instance and choose instances round-robin.
 * A request that could not reach its instance is retried on another one;
 * a request that reached an instance which then died fails with
 * ConnectionLostError (it may have run: it is never sent twice), unless
 * its method is idempotent (`@rpc({ idempotent: true })`): then it is
 * sent again to another instance, within its deadline.
 */
export class ZmqRpcTransport implements RpcTransport {
  readonly kind = 'zmq';
  readonly #ctx: BackendContext;
  readonly #log: Logger;
  readonly #serializer: Serializer;
  readonly #picker: InstancePicker;
  readonly #bad: BadFrames;
  readonly #auth: ClusterAuth;
  readonly #zmq: Awaited<ReturnType<typeof loadZmq>>;
  readonly #requester: ZmqRequester;
  #responder: ZmqResponder | undefined;
  #closed = false;

  private constructor(
    zmq: Awaited<ReturnType<typeof loadZmq>>,
    registry: Registry,
    ctx: BackendContext,
    options: ZmqRpcOptions,
  ) {
    this.#zmq = zmq;
    this.#ctx = ctx;
    this.#log = ctx.log.child({ transport: 'zmq' });
    this.#serializer = options.serializer ?? new MsgpackSerializer();
    this.#picker = new InstancePicker(registry, 'rpc');
    this.#bad = new BadFrames(this.#log);
    this.#auth = ctx.auth ?? new ClusterAuth({ cluster: ctx.cluster }, { log: this.#log });
    this.#requester = new ZmqRequester(zmq, {
      auth: this.#auth,
      serializer: this.#serializer,
      log: this.#log,
      bad: this.#bad,
      label: 'rpc',
      writeBufferBytes: limitsOf(ctx.limits).writeBufferBytes,
      // An instance that stops gets no new calls from here, before the registry says it left.
      onLeaving: (endpoint) => this.#picker.leaving(endpoint),
    });
  }

  static async create(
    registry: Registry,
    ctx: BackendContext,
    options: ZmqRpcOptions = {},
  ): Promise<ZmqRpcTransport> {
    return new ZmqRpcTransport(await loadZmq(), registry, ctx, options);
  }

  /** Frames dropped as bad (undecodable, mis-shaped, over the size limit), received or replied. */
  get badFrames(): number {
    return this.#bad.count;
  }

  async listen(services: readonly string[], handler: RpcHandler): Promise<Record<string, string>> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const served = new Set(services);
    const handle: RequestHandler = async (body, _source, cancel) => {
      const request = parseRequest(body, cancel);
      if (!served.has(request.service)) {
        // A stale registry entry can point a caller at a port another process reuses.
        return {
          ok: false,
          error: toWireError(
            new UnknownServiceError(`service "${request.service}" is not served here`),
          ),
        } satisfies RpcResponse;
      }
      const answer = handler(request);
      // A plain answer is passed on as it is, without waiting a turn for it.
      return isThenable(answer)
        ? answer.then((a) => asReply(a, request))
        : asReply(answer, request);
    };
    if (this.#responder) this.#responder.setHandler(handle);
    else {
      this.#responder = await ZmqResponder.bind(this.#zmq, this.#ctx.bindHost, handle, {
        advertise: advertiseHostOf(this.#ctx),
        serializer: this.#serializer,
        log: this.#log,
        bad: this.#bad,
        auth: this.#auth,
        label: 'rpc',
        writeBufferBytes: limitsOf(this.#ctx.limits).writeBufferBytes,
      });
    }
    return { rpc: this.#responder.endpoint };
  }

  async call(request: RpcRequest, options: RpcCallOptions): Promise<RpcResponse> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const what = `${request.service}.${request.method}`;
    const deadline = Date.now() + options.timeout;
    for (let attempt = 0; ; attempt++) {
      const endpoint = options.address ?? (await this.#picker.pick(request.service));
      try {
        // What remains of the deadline goes with each attempt, so that the server's is no later.
        const timeout = Math.max(1, deadline - Date.now());
        const reply = await this.#requester.request(
          endpoint,
          wireRequest(request, timeout),
          timeout,
          what,
          options.cancel,
        );
        return parseResponse(reply);
      } catch (err) {
        // The attempt's timeout is what was left of the call's: the message names the call's.
        if (err instanceof RpcTimeoutError && err.code === RpcTimeoutError.code) {
          throw new RpcTimeoutError(`${what} did not answer within ${options.timeout} ms`);
        }
        // Undelivered, or refused by a stopping instance before it ran: safe to send elsewhere.
        const retryable = err instanceof SvcError && err.retryable;
        const lost = err instanceof ConnectionLostError;
        if (!(lost || retryable) || this.#closed) throw err;
        if (!options.address) this.#picker.evict(request.service, endpoint);
        // One that may have run is repeated only when its method says that is safe.
        const again =
          retryable || (lost && this.#picker.idempotent(request.service, request.method));
        const retry =
          again && !options.address && attempt < UNDELIVERED_RETRIES && Date.now() < deadline;
        if (!retry) {
          if (!lost) throw err;
          // Named for the call; one that never left this process stays one (nothing ran).
          const Lost = err instanceof NotDeliveredError ? NotDeliveredError : ConnectionLostError;
          throw new Lost(`${what}: ${err.message}`, { cause: err });
        }
        this.#log.debug('retrying a request on another instance', {
          endpoint,
          call: what,
        });
      }
    }
  }

  stream(request: RpcRequest, options: RpcCallOptions): AsyncIterator<unknown, unknown> {
    return this.#read(request, options);
  }

  /** A stream's items; a generator, so that the instance is picked when the reading starts. */
  async *#read(request: RpcRequest, options: RpcCallOptions): AsyncGenerator<unknown, unknown> {
    if (this.#closed) throw new ConnectionLostError('the RPC transport is closed');
    const endpoint = options.address ?? (await this.#picker.pick(request.service));
    const reader = this.#requester.stream(
      endpoint,
      wireRequest(request, options.timeout, true),
      options.timeout,
      `${request.service}.${request.method}`,
      options.cancel,
    );
    return yield* itemsOf(reader, (last) => {
      const end = parseResponse(last);
      if (end.ok) return end.result;
      throw fromWireError(end.error);
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#picker.close();
    this.#requester.close();
    await this.#responder?.close();
    this.#bad.close();
  }
}

/** A handler's answer as the responder sends it: a response, or the items of a stream. */
function asReply(answer: RpcAnswer, request: RpcRequest): RpcResponse | StreamReply {
  if (answer.ok !== 'stream') return answer;
  return new StreamReply(answer.items, `${request.service}.${request.method}`, request.timeout);
}

/**
 * A request as it goes on the wire: its fields, and `timeout`, what remains
 * of the call's deadline (the receiver counts it from when it arrives).
 */
function wireRequest(request: RpcRequest, timeout: number, stream = false): object {
  const { service, method, params, headers, args } = request;
  const body: Record<string, unknown> = { service, method, params, headers, timeout };
  if (args !== undefined) body['args'] = args;
  if (stream) body['stream'] = true;
  return body;
}

/** Checks an incoming request's shape and copies only the known fields. */
function parseRequest(body: unknown, cancel: CancelToken): RpcRequest {
  if (!isObject(body)) throw new MalformedRequestError('request is not an object');
  const { service, method, params, args, headers, timeout, stream } = body;
  if (typeof service !== 'string' || typeof method !== 'string') {
    throw new MalformedRequestError('request lacks a service or method name');
  }
  if (args !== undefined && !Array.isArray(args)) {
    throw new MalformedRequestError('request args is not a list');
  }
  const left = receivedTimeout(timeout);
  if (Number.isNaN(left)) {
    throw new MalformedRequestError('request timeout is not a number of milliseconds');
  }
  const request: RpcRequest = {
    service,
    method,
    params,
    headers: parseCallHeaders(headers),
    cancel,
  };
  if (left !== undefined) request.timeout = left;
  if (args !== undefined) request.args = args as unknown[];
  if (stream === true) request.stream = true;
  return request;
}

function parseResponse(value: unknown): RpcResponse {
  if (isObject(value) && value['ok'] === true) return { ok: true, result: value['result'] };
  if (isObject(value) && value['ok'] === false && isObject(value['error'])) {
    const e = value['error'];
    const error: WireError = {
      code: typeof e['code'] === 'string' ? e['code'] : ErrorCode.REMOTE,
      type: typeof e['type'] === 'string' ? e['type'] : 'Error',
      message: typeof e['message'] === 'string' ? e['message'] : '',
    };
    if (e['data'] !== undefined) error.data = e['data'];
    return { ok: false, error };
  }
  throw new MalformedRequestError('the server sent a reply that is not an RPC response');
}
