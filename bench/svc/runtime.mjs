// The full svc runtime for benchmarks: an Instance with its containers,
// dispatch, context and HTTP entrypoint, on the `net` transport. Services are
// plain JS here, so decorators are applied by hand (they only record metadata).
import {
  DEFAULT_LIMITS,
  MsgpackSerializer,
  Service,
  createRpcTransport,
  http,
  rpc,
} from '@svc/core';
import { MemoryEventStore, MemoryEventTransport } from '@svc/core/testing';
import { StaticRegistry } from './static-registry.mjs';

export class Greeter extends Service {
  static serviceName = 'Greeter';
  hello({ name }) {
    return `Hi, ${name}!`;
  }
}

export class Web extends Service {
  static serviceName = 'Web';
  async greet() {
    return await this.rpc.Greeter.hello({ name: 'bench' });
  }
}

const method = (name) => ({ kind: 'method', name, static: false, private: false });
rpc()(Greeter.prototype.hello, method('hello'));
http('GET', '/greet')(Web.prototype.greet, method('greet'));

export const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** Backends of one benchmark process: `net` RPC, peers known up front, in-process events. */
export async function benchBackends(peers, name) {
  const registry = new StaticRegistry(peers);
  const ctx = { cluster: 'bench', bindHost: '127.0.0.1', log: silent, clientName: name };
  return {
    registry,
    rpc: await createRpcTransport('net', registry, ctx),
    events: new MemoryEventTransport(new MemoryEventStore(), new MsgpackSerializer()),
  };
}

/** An instance config as `svc instance` would resolve it, for one service. */
export function instanceConfig(name, maxWorkers) {
  return {
    file: '<inline>',
    dir: process.cwd(),
    cluster: 'bench',
    registry: 'static',
    rpc: 'net',
    events: 'memory',
    bindHost: '127.0.0.1',
    advertiseHost: '127.0.0.1',
    rpcTls: false,
    http: { port: 0, host: '127.0.0.1', trustTraceHeader: false },
    metrics: { host: '127.0.0.1' },
    log: { level: 'warn' },
    tracing: {},
    limits: { ...DEFAULT_LIMITS },
    debug: { shell: false, inspector: false },
    maxWorkers,
    stopTimeout: 1000,
    rpcTimeout: 10_000,
    plugins: [],
    interfaces: [{ name, class: `bench#${name}`, options: {} }],
    raw: {},
  };
}
