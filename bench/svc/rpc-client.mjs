// svc client: calls `greeter.hello` through its RpcTransport interface, closed loop.
// The server's endpoint is passed as the call address (the registry stays in-process).
import { createRpcTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';
import { clientConfig, closedLoop, report } from '../lib/loop.mjs';

const config = clientConfig();
// config.payload: the name's length in bytes (the payload-size curve), else 'bench'.
const name = config.payload ? 'x'.repeat(config.payload) : 'bench';
const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const ctx = {
  cluster: 'bench',
  bindHost: '127.0.0.1',
  log: silent,
  clientName: 'bench',
  // TCP, as the raw baselines: a same-host unix socket is measured end to end
  rpcUnix: false,
};
const registry = new MemoryRegistry(new MemoryRegistryStore());
const transport = await createRpcTransport(config.url, registry, ctx);
const options = config.address ? { timeout: 10_000, address: config.address } : { timeout: 10_000 };
let n = 0;
// A fresh request per call, as the runtime builds one (trace id, call stack, context data).
const call = () =>
  transport.call(
    {
      service: 'greeter',
      method: 'hello',
      params: { name },
      headers: { traceId: `t${++n}`, callIdStack: [], data: {} },
    },
    options,
  );
const check = (reply) => {
  if (!reply.ok) throw new Error(reply.error.message);
};
const windows = await closedLoop(call, config, check);
await transport.close();
report({ windows });
