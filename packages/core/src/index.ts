export * from './errors.js';
export * from './serializers/index.js';
export * from './backends.js';
export type {
  InstanceRecord,
  Registry,
  SubscriptionInfo,
  SubscriptionMode,
  Unsubscribe,
} from './registry/registry.js';
export { MemoryRegistry, MemoryRegistryStore } from './registry/memory.js';
export { LocalRegistry, localRegistryDir, type LocalRegistryOptions } from './registry/local.js';
export type {
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcTransport,
} from './rpc/transport.js';
export { AmqpRpcTransport, type AmqpRpcOptions } from './rpc/amqp.js';
export { RPC_EXCHANGE, rpcQueueName } from './amqp/rpc-codec.js';
export { InstancePicker } from './rpc/picker.js';
export { MemoryRpcStore, MemoryRpcTransport } from './rpc/memory.js';
export { ZmqRpcTransport, type ZmqRpcOptions } from './rpc/zmq.js';
export type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './events/transport.js';
export {
  ALL_EVENTS_EXCHANGE,
  AmqpEventTransport,
  delayQueueName,
  eventExchange,
  eventQueueName,
  type AmqpEventOptions,
} from './events/amqp.js';
export { MemoryEventStore, MemoryEventTransport } from './events/memory.js';
export { deliveryGroup, subscriptionMatches } from './events/match.js';
export { ZmqEventTransport, MAX_EVENT_DELAY_MS, type ZmqEventOptions } from './events/zmq.js';
export * from './config/index.js';
export * from './amqp/index.js';
export type { CallHeaders } from './context-headers.js';
export * from './log/index.js';
export {
  WorkerContext,
  currentContext,
  newTraceId,
  runInContext,
  MAX_CALL_ID_STACK,
  type EntrypointKind,
} from './context.js';
export {
  rpc,
  event,
  timer,
  http,
  collectEntrypoints,
  type RpcOptions,
  type EventOptions,
  type TimerOptions,
  type HttpOptions,
  type RetryPolicy,
  type EntrypointMeta,
  type ErrorClass,
} from './decorators.js';
export {
  t,
  type Schema,
  type Shape,
  type Infer,
  type InferShape,
  type ParamsSchema,
} from './schema.js';
export { Service, type ServiceClass } from './service.js';
export { DependencyProvider, Config, inject, type ProviderHost } from './dependency.js';
export {
  ServiceContainer,
  DEFAULT_EVENT_RETRY,
  type ContainerOptions,
  type ContainerState,
} from './container/container.js';
export {
  Caller,
  type CallOptions,
  type DeferredCall,
  type EmitOptions,
  type RpcMethod,
  type RpcProxies,
  type ServiceProxy,
} from './client.js';
export { Hooks, HOOK_NAMES, type HookName, type HttpRequestInfo, type Plugin } from './hooks.js';
export {
  Metrics,
  type MetricsSnapshot,
  type EntrypointFigures,
  type ProcessFigures,
} from './metrics.js';
export { BUILTIN_METHODS } from './builtins.js';
export {
  type ServiceDescription,
  type MethodDescription,
  type ParamDescription,
} from './inspect.js';
export {
  HttpEntrypointServer,
  HttpError,
  Router,
  type HttpRequest,
  type HttpResponse,
  type HttpServerOptions,
} from './http/index.js';
export { Instance, type InstanceExtension, type InstanceOptions } from './instance.js';
export { connect, ClusterClient, type ConnectOptions } from './cluster-client.js';
