import type { Message } from 'amqplib';
import {
  DecodeError,
  MalformedRequestError,
  MethodNotFoundError,
  toWireError,
  type WireError,
} from '../errors.js';
import type { JsonSerializer } from '../serializers/json.js';
import type { RpcRequest, RpcResponse } from '../rpc/transport.js';
import { fromNamekoError, toNamekoError } from './errors.js';
import { decodeHeaders, decodeTimeout } from './headers.js';

/** Nameko's RPC exchange (requests and replies). */
export const RPC_EXCHANGE = 'nameko-rpc';

/** Nameko's queue of a service's RPC requests. */
export function rpcQueueName(service: string): string {
  return `rpc-${service}`;
}

/** The only content type Nameko's JSON serializer accepts (matched exactly, as kombu does). */
export const JSON_TYPE = 'application/json';
const MISSING_ARGS = 'Message missing `args` or `kwargs`';

/** What is wrong with a request's properties before its body is read, if anything. */
export function requestProblem(msg: Message): string | undefined {
  const contentType = msg.properties.contentType as string | undefined;
  if (contentType === undefined) return 'request has no content type';
  if (contentType !== JSON_TYPE) return `content type "${contentType}" is not ${JSON_TYPE}`;
  return undefined;
}

/** Nameko's request body `{args, kwargs}` for an svc request. */
export function encodeRequest(request: RpcRequest, json: JsonSerializer): Buffer {
  return json.encode({
    args: request.args ?? [],
    kwargs: request.params === undefined || request.params === null ? {} : request.params,
  });
}

/**
 * The svc request in a Nameko request delivered to `service`'s queue, or
 * the error to answer with (MethodNotFound for a routing key of another
 * shape, MalformedRequest for bad JSON or missing `args`/`kwargs`).
 */
export function decodeRequest(
  service: string,
  msg: Message,
  json: JsonSerializer,
): { request: RpcRequest } | { error: WireError } {
  const key = msg.fields.routingKey;
  // `<service>.<method>`, or `<service>.svc.<builtin>` for svc's built-in methods.
  const method = key.startsWith(`${service}.`) ? key.slice(service.length + 1) : '';
  if (method === '' || (method.includes('.') && !/^svc\.[A-Za-z_]\w*$/.test(method))) {
    return { error: toWireError(new MethodNotFoundError(method)) };
  }
  let body: unknown;
  try {
    body = json.decode(msg.content);
  } catch (err) {
    return { error: toWireError(new MalformedRequestError((err as Error).message)) };
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const args = b['args'];
  const kwargs = b['kwargs'];
  if (
    !Array.isArray(args) ||
    typeof kwargs !== 'object' ||
    kwargs === null ||
    Array.isArray(kwargs)
  ) {
    return { error: toWireError(new MalformedRequestError(MISSING_ARGS)) };
  }
  const request: RpcRequest = {
    service,
    method,
    params: kwargs,
    headers: decodeHeaders(msg.properties.headers),
  };
  if (args.length > 0) request.args = args;
  const timeout = decodeTimeout(msg.properties.headers);
  if (timeout !== undefined) request.timeout = timeout;
  return { request };
}

/** Nameko's reply body `{result, error}`; a result JSON cannot hold becomes an error reply. */
export function encodeReply(response: RpcResponse, json: JsonSerializer): Buffer {
  try {
    return json.encode(
      response.ok
        ? { result: response.result ?? null, error: null }
        : { result: null, error: toNamekoError(response.error) },
    );
  } catch (err) {
    return json.encode({ result: null, error: toNamekoError(toWireError(err)) });
  }
}

/** The svc response in a Nameko reply body; a DecodeError when it is not one. */
export function decodeReply(content: Buffer, json: JsonSerializer, service: string): RpcResponse {
  let body: unknown;
  try {
    body = json.decode(content);
  } catch (err) {
    throw new DecodeError(`undecodable reply from ${service}: ${(err as Error).message}`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new DecodeError(`reply from ${service} is not {result, error}`);
  }
  const { result, error } = body as { result?: unknown; error?: unknown };
  if (error) return { ok: false, error: fromNamekoError(error) };
  return { ok: true, result: result ?? null };
}
