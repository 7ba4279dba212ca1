import { MemoryHub } from './hub.js';
import {
  describeEventTransport,
  describeRegistry,
  describeRpcTransport,
} from './conformance/index.js';

const hub = new MemoryHub();

describeRegistry('memory', { create: async () => hub.connect().registry });
describeRpcTransport('memory', {
  create: async () => {
    const b = hub.connect();
    return { rpc: b.rpc, registry: b.registry };
  },
});
describeEventTransport('memory', {
  create: async () => {
    const b = hub.connect();
    return { events: b.events, registry: b.registry };
  },
});
