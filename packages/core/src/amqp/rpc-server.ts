import type { Channel, ConsumeMessage } from 'amqplib';
import { MalformedRequestError, MethodNotFoundError, toWireError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { plainAnswer, type RpcHandler, type RpcResponse } from '../rpc/transport.js';
import type { JsonSerializer } from '../serializers/json.js';
import { buryOrRequeue, InflightWork, safely, type DeadLetterPublisher } from './consumer.js';
import { deadQueueName } from './dead-letter.js';
import { receivedTraceId } from './headers.js';
import {
  JSON_TYPE,
  RPC_EXCHANGE,
  decodeRequest,
  encodeReply,
  requestProblem,
  rpcQueueName,
} from './rpc-codec.js';

/**
 * The serving side of RPC in Nameko's format: runs each request taken from
 * a service's queue and replies on the channel it came on. A request
 * without a reply address goes to the dead-letter queue (it can never be
 * answered); one that cannot be read gets a MalformedRequestError.
 */
export class AmqpRpcServer {
  /** runs each decoded request */
  handler: RpcHandler | undefined;
  readonly #log: Logger;
  readonly #json: JsonSerializer;
  readonly #deadLetters: DeadLetterPublisher;
  readonly #inflight = new InflightWork();
  #closing = false;

  constructor(options: { log: Logger; json: JsonSerializer; deadLetters: DeadLetterPublisher }) {
    this.#log = options.log;
    this.#json = options.json;
    this.#deadLetters = options.deadLetters;
  }

  /** Serves one request delivered on `ch` from `service`'s queue; never throws. */
  take(ch: Channel, service: string, msg: ConsumeMessage): void {
    const job = this.#serve(ch, service, msg).catch((err: Error) => {
      this.#log.error('RPC request handling failed', {
        queue: rpcQueueName(service),
        error: err.message,
      });
    });
    this.#inflight.track(job);
  }

  /** Takes no more requests (they go back to the queue) and lets running ones finish, up to `drainMs`. */
  async close(drainMs: number): Promise<void> {
    this.#closing = true;
    await this.#inflight.drain(drainMs);
  }

  async #serve(ch: Channel, service: string, msg: ConsumeMessage): Promise<void> {
    const queue = rpcQueueName(service);
    if (this.#closing) {
      safely(() => ch.nack(msg, false, true));
      return;
    }
    const replyTo = msg.properties.replyTo as string | undefined;
    const problem = requestProblem(msg);
    if (problem) {
      this.#log.warn('bad RPC request', {
        queue,
        routingKey: msg.fields.routingKey,
        ...traceOf(msg),
        error: problem,
      });
      if (replyTo) {
        const error = toWireError(new MalformedRequestError(problem));
        return this.#reply(ch, msg, { ok: false, error });
      }
      return this.#bury(ch, queue, msg, `no reply_to; ${problem}`);
    }
    if (!replyTo) {
      this.#log.warn('RPC request without reply_to; moving it to the dead-letter queue', {
        queue,
        deadQueue: deadQueueName(queue),
        routingKey: msg.fields.routingKey,
        ...traceOf(msg),
      });
      return this.#bury(ch, queue, msg, 'no reply_to: nowhere to answer');
    }
    return this.#reply(ch, msg, await this.#run(service, msg));
  }

  async #run(service: string, msg: ConsumeMessage): Promise<RpcResponse> {
    const decoded = decodeRequest(service, msg, this.#json);
    if ('error' in decoded) return { ok: false, error: decoded.error };
    const handler = this.handler;
    if (!handler) {
      return { ok: false, error: toWireError(new MethodNotFoundError(decoded.request.method)) };
    }
    try {
      return plainAnswer(await handler(decoded.request));
    } catch (err) {
      return { ok: false, error: toWireError(err) };
    }
  }

  /**
   * Publishes the reply on the request's own channel, then acks the request
   * there: the broker routes the reply before it handles the ack. On a
   * channel that died meanwhile neither happens, and the broker delivers the
   * request again.
   */
  #reply(ch: Channel, msg: ConsumeMessage, response: RpcResponse): void {
    const content = encodeReply(response, this.#json);
    const correlationId = msg.properties.correlationId as string | undefined;
    try {
      ch.publish(RPC_EXCHANGE, msg.properties.replyTo as string, content, {
        contentType: JSON_TYPE,
        contentEncoding: 'utf-8',
        deliveryMode: 2,
        priority: 0,
        headers: {},
        ...(correlationId === undefined ? {} : { correlationId }),
      });
      ch.ack(msg);
    } catch (err) {
      // not acked: the broker redelivers the request once we are back
      this.#log.error('cannot publish an RPC reply', { error: (err as Error).message });
    }
  }

  #bury(ch: Channel, queue: string, msg: ConsumeMessage, reason: string): Promise<void> {
    return buryOrRequeue(this.#deadLetters, ch, queue, msg, reason, 'an RPC request');
  }
}

/** The `traceId` field of a line about a request no worker runs, when it names a trace. */
function traceOf(msg: ConsumeMessage): { traceId?: string } {
  const traceId = receivedTraceId(msg.properties.headers);
  return traceId === undefined ? {} : { traceId };
}
