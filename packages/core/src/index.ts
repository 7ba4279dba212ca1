export * from './errors.js';
export * from './serializers/index.js';
export * from './registry/index.js';
export * from './transports/index.js';
export * from './events/index.js';
export * from './backends.js';
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
  type RpcDecorator,
  type EntrypointDecorator,
} from './decorators.js';
export { t, type Schema, type Shape, type Infer, type InferShape } from './schema.js';
export {
  type ParamsSchema,
  type ParamsInput,
  type ParamsOutput,
  type StandardSchema,
  type StandardResult,
} from './params.js';
export {
  RPC,
  type RpcDeclaration,
  type ServiceProxy,
  type RpcProxies,
  type TypedRpcMethod,
  type CallArgs,
  type RpcStubs,
} from './typed.js';
export { Service, type ServiceClass } from './service.js';
export { DependencyProvider, Config, inject, type ProviderHost } from './dependency.js';
export {
  ServiceContainer,
  DEFAULT_EVENT_RETRY,
  type ContainerOptions,
  type ContainerState,
} from './container.js';
export {
  Caller,
  type CallOptions,
  type DeferredCall,
  type EmitOptions,
  type RpcMethod,
  type UntypedProxies,
} from './client.js';
export { Hooks, HOOK_NAMES, type HookName, type HttpRequestInfo, type Plugin } from './hooks.js';
export {
  Metrics,
  type MetricsSnapshot,
  type EntrypointFigures,
  type ProcessFigures,
} from './metrics.js';
export {
  BUILTIN_METHODS,
  type ServiceDescription,
  type MethodDescription,
  type ParamDescription,
  type ClassDocs,
  type MethodDocs,
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
