// @svc/core: what a service, a script calling a cluster, or a process
// embedding instances needs. Backends have subpaths of their own
// (`@svc/core/amqp`, `/zmq`, `/zookeeper`), the in-memory ones and the test
// kit are `@svc/core/testing`. Every name here is public: the list is
// checked against public-api.txt by public-api.test.ts.

// A service: a class, its entrypoints, its parameters, its dependencies.
export { Service, type ServiceClass } from './service.js';
export {
  rpc,
  event,
  timer,
  http,
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
// Typed calls: what a service declares callable, and the proxies callers get.
export {
  RPC,
  type RpcDeclaration,
  type ServiceProxy,
  type RpcProxies,
  type TypedRpcMethod,
  type TypedStreamMethod,
  type CallArgs,
  type RpcStubs,
} from './typed.js';
export { DependencyProvider, Config, inject, type ProviderHost } from './dependency.js';
export { WorkerContext, currentContext, type EntrypointKind } from './context.js';
export type { CallHeaders } from './context-headers.js';
export { HttpError, type HttpRequest, type HttpResponse } from './http/types.js';
export { HOOK_NAMES, type HookName, type HttpRequestInfo, type Plugin } from './hooks.js';
export type { Hooks } from './hooks.js';
export type { Metrics, MetricsSnapshot, EntrypointFigures, ProcessFigures } from './metrics.js';
export type {
  Counter,
  Gauge,
  HistogramMetric,
  MetricLabels,
  MetricOptions,
  HistogramOptions,
  CustomMetricData,
  CustomSeries,
  IncArgs,
  ValueArgs,
  LabelArgs,
} from './metrics/custom.js';
export type { HistogramData } from './metrics/histogram.js';

// Errors: the catalogue and how errors cross the wire.
export {
  ErrorCode,
  SvcError,
  RpcTimeoutError,
  DeadlineExceededError,
  CancelledError,
  UnknownServiceError,
  MethodNotFoundError,
  ValidationError,
  MalformedRequestError,
  IncorrectSignatureError,
  ConnectionLostError,
  DecodeError,
  SerializationError,
  ConfigError,
  ContainerStoppedError,
  BackendError,
  UsageError,
  RemoteError,
  catalogue,
  registerError,
  toWireError,
  fromWireError,
  type WireError,
} from './errors.js';

// Calling a cluster from outside.
export { connect, ClusterClient, type ConnectOptions } from './cluster-client.js';
export { ClusterAuth, type ClusterAuthOptions } from './security/auth.js';
export type { CallOptions, DeferredCall, EmitOptions, RpcStream } from './client.js';
export type { RpcMethod, UntypedProxies } from './proxies.js';
export type {
  ServiceDescription,
  MethodDescription,
  ParamDescription,
  ClassDocs,
  MethodDocs,
} from './inspect.js';

// Running services in a process.
export { Instance, type InstanceExtension, type InstanceOptions } from './instance.js';
export {
  ServiceContainer,
  ServiceStartError,
  DEFAULT_EVENT_RETRY,
  type ContainerOptions,
  type ContainerState,
  type WorkerLimits,
  type WorkerObserver,
  type WorkerOutcome,
  type StreamOutcome,
} from './container/container.js';
export type { BuiltinHost } from './builtins.js';
export {
  DEFAULT_BACKENDS,
  loadInstanceConfig,
  parseInstanceConfig,
  type DebugConfig,
  type InstanceConfig,
  type SecurityConfig,
  type InterfaceConfig,
} from './config/instance.js';
export type { ConfigView } from './config/view.js';

// Logging.
export {
  CALL_RECORD,
  LOG_LEVELS,
  MemorySink,
  RecordLogger,
  StreamSink,
  terminalSink,
  type Logger,
  type LogCalls,
  type LogLevel,
  type LogRecord,
  type LogSink,
  type RingSink,
} from './log/index.js';

// Backends: resolved from config values, and the interfaces a backend implements.
export {
  createRegistry,
  createRpcTransport,
  createEventTransport,
  closeBackends,
  type Backends,
  type BackendContext,
  type BackendUrls,
} from './backends.js';
export { DEFAULT_LIMITS, type Limits } from './limits.js';
export type {
  InstanceRecord,
  Registry,
  SubscriptionInfo,
  SubscriptionMode,
  Unsubscribe,
} from './registry/registry.js';
export type {
  ItemSource,
  RpcAnswer,
  RpcCallOptions,
  RpcHandler,
  RpcRequest,
  RpcResponse,
  RpcStreamAnswer,
  RpcTransport,
} from './rpc/transport.js';
export { CancelToken } from './cancel.js';
export type {
  EventHandlerFn,
  EventMessage,
  EventTransport,
  PublishOptions,
  SubscriptionSpec,
} from './events/transport.js';
export {
  createSerializer,
  DEFAULT_MAX_MESSAGE_BYTES,
  JsonSerializer,
  MsgpackSerializer,
  type Serializer,
} from './serializers/index.js';
