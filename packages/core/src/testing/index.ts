export { MemoryHub } from './hub.js';
export { CaptureLogger } from './capture-log.js';
export {
  fake,
  workerFactory,
  entrypointHook,
  entrypointWaiter,
  replaceDependencies,
  testConfig,
  type Fake,
  type RecordedCall,
  type RecordedEvent,
  type TestWorker,
} from './kit.js';
export {
  testCluster,
  type TestCluster,
  type TestClusterOptions,
  type ServiceMapOf,
} from './cluster.js';
export type { WorkerOutcome } from '../container/container.js';
export { MemoryRegistry, MemoryRegistryStore } from '../registry/memory.js';
export { MemoryRpcStore, MemoryRpcTransport } from '../rpc/memory.js';
export { MemoryEventStore, MemoryEventTransport } from '../events/memory.js';
