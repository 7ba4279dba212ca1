// @svc/core/zmq: RPC over ZeroMQ (`rpc: zmq`) and the embedded events
// backend (`events: local`), whose publishers find subscribers through
// the registry and deliver over ZeroMQ.

export { ZmqRpcTransport, type ZmqRpcOptions } from '../rpc/zmq.js';
export { ZmqEventTransport, MAX_EVENT_DELAY_MS, type ZmqEventOptions } from '../events/zmq.js';
