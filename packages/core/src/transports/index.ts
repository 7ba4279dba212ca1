import type { BackendContext } from '../backends.js';
import { ConfigError } from '../errors.js';
import type { Registry } from '../registry/registry.js';
import { schemeOf } from '../registry/index.js';
import type { RpcTransport } from './transport.js';

export type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './transport.js';
export { AmqpRpcTransport, RPC_EXCHANGE, rpcQueueName, type AmqpRpcOptions } from './amqp.js';
export { InstancePicker } from './picker.js';
export { MemoryRpcStore, MemoryRpcTransport } from './memory.js';
export { ZmqRpcTransport, type ZmqRpcOptions } from './zmq.js';

/**
 * Resolves an RPC transport from its config value: `net` (TCP +
 * MessagePack), `zmq` (ZeroMQ + MessagePack) or `amqp://...` (Nameko's
 * format through RabbitMQ).
 */
export async function createRpcTransport(
  url: string,
  registry: Registry,
  ctx: BackendContext,
): Promise<RpcTransport> {
  switch (schemeOf(url)) {
    case 'zmq': {
      const { ZmqRpcTransport } = await import('./zmq.js');
      return ZmqRpcTransport.create(registry, ctx);
    }
    case 'net': {
      const { NetRpcTransport } = await import('./net.js');
      return new NetRpcTransport(registry, ctx);
    }
    case 'amqp':
    case 'amqps': {
      const { AmqpRpcTransport } = await import('./amqp.js');
      return new AmqpRpcTransport(url, {
        log: ctx.log.child({ backend: 'rpc' }),
        clientName: ctx.clientName,
        ...(ctx.maxWorkers === undefined ? {} : { prefetch: ctx.maxWorkers }),
      });
    }
    default:
      throw new ConfigError(
        `unknown rpc transport "${url}": expected "net", "zmq" or "amqp://..."`,
      );
  }
}
