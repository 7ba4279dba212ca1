// svc: serves `greeter.hello` through the RPC transport named by argv[2]
// (`net`, `zmq`, `amqp://...`) with a registry that never leaves this process;
// argv[3] `tls`: `net` over TLS-PSK (`rpc_tls`), its endpoint `tls://`.
import '../lib/child.mjs';
import process from 'node:process';
import { createRpcTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
// maxWorkers 200, as the runtime scenarios' services and the raw AMQP server's prefetch:
// on AMQP it is the prefetch, and the default (10) would queue 100 calls in flight.
const ctx = {
  cluster: 'bench',
  bindHost: '127.0.0.1',
  log: silent,
  clientName: 'greeter',
  maxWorkers: 200,
  rpcTls: process.argv[3] === 'tls',
  // TCP, as the raw baselines (a same-host unix socket is measured end to end)
  rpcUnix: false,
};
const registry = new MemoryRegistry(new MemoryRegistryStore());
const transport = await createRpcTransport(process.argv[2], registry, ctx);
// Answered synchronously, as the runtime answers a plain method (an RpcHandler may).
const endpoints = await transport.listen(['greeter'], (req) => ({
  ok: true,
  result: `Hi, ${req.params.name}!`,
}));
process.stdout.write(`${JSON.stringify({ address: endpoints.rpc ?? null })}\n`);
