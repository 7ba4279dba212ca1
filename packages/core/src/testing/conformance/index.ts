export { describeRegistry, type RegistryFactory } from './registry.js';
export { describeRpcTransport, type RpcFactory, type RpcPeer } from './rpc.js';
export { describeEventTransport, type EventFactory, type EventPeer } from './events.js';
export { eventually, makeRecord, sleep, uniqueName } from './util.js';
