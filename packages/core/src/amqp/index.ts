// @svc/core/amqp: RPC (in Nameko's format) and events through RabbitMQ.
// Config values `amqp://...` choose them; construct them yourself only to
// wire backends by hand.

export { AmqpRpcTransport, type AmqpRpcOptions } from '../rpc/amqp.js';
export {
  AmqpEventTransport,
  ALL_EVENTS_EXCHANGE,
  delayQueueName,
  eventExchange,
  eventQueueName,
  type AmqpEventOptions,
} from '../events/amqp.js';
export type { AmqpConnectionOptions } from './connection.js';
export { deadQueueName } from './dead-letter.js';
export { RPC_EXCHANGE, rpcQueueName } from './rpc-codec.js';
