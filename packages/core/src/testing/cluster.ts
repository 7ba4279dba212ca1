import { ClusterClient } from '../cluster-client.js';
import type { InstanceConfig } from '../config/instance.js';
import type { ServiceContainer } from '../container/container.js';
import { Instance } from '../instance.js';
import { MemorySink } from '../log/index.js';
import type { LogRecord } from '../log/logger.js';
import type { Plugin } from '../hooks.js';
import { serviceNameOf, type ServiceClass } from '../service.js';
import { MemoryHub } from './hub.js';
import { replaceDependencies, testConfig } from './kit.js';

/**
 * The services of a list of classes, by name: the classes whose
 * `serviceName` is a literal type (`static override readonly serviceName = 'Greeting'`).
 */
export type ServiceMapOf<C extends readonly ServiceClass[]> = {
  [
    K in C[number] as K extends { serviceName: infer N extends string }
      ? string extends N
        ? never
        : N
      : never
  ]: InstanceType<K>;
};

/** Several services on one in-memory hub, started together, each in an instance of its own. */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- no typed service
export interface TestCluster<M extends object = {}> extends AsyncDisposable {
  hub: MemoryHub;
  instances: Instance[];
  /** a standalone client on the same hub, its `rpc` typed by the classes the cluster started */
  client: ClusterClient<M>;
  /** every log record of every instance */
  logs: LogRecord[];
  /** the container of a service (of its first instance) */
  container(service: string): ServiceContainer;
  stop(): Promise<void>;
}

export interface TestClusterOptions {
  /** instances per service (default 1) */
  replicas?: Record<string, number>;
  /** config fields for every instance */
  config?: Partial<InstanceConfig>;
  /** per service, dependency fields to replace with fakes or values */
  replace?: Record<string, string[] | Record<string, unknown>>;
  plugins?: Plugin[];
}

/**
 * Starts services on one in-memory hub, as they would run on a network:
 * RPC, events and the registry cross the same serialization. Stop it with
 * `await cluster.stop()` or `await using cluster = await testCluster(...)`.
 */
export async function testCluster<const C extends readonly ServiceClass[]>(
  services: C,
  options: TestClusterOptions = {},
): Promise<TestCluster<ServiceMapOf<C>>> {
  const hub = new MemoryHub();
  const sink = new MemorySink();
  const instances: Instance[] = [];
  try {
    for (const cls of services) {
      const name = serviceNameOf(cls);
      for (let i = 0; i < (options.replicas?.[name] ?? 1); i++) {
        const instance = new Instance({
          config: testConfig([cls], options.config),
          backends: hub.connect(),
          classes: { [name]: cls },
          sinks: [sink],
          ...(options.plugins ? { plugins: options.plugins } : {}),
        });
        const replace = options.replace?.[name];
        if (replace) {
          instance.onContainers((containers) => {
            for (const c of containers) replaceDependencies(c, replace);
          });
        }
        instances.push(instance);
        await instance.start();
      }
    }
  } catch (err) {
    await Promise.allSettled(instances.map((i) => i.kill()));
    throw err;
  }
  const client = new ClusterClient<ServiceMapOf<C>>(hub.connect(), { name: 'test-client' });
  const stop = async () => {
    await client.close();
    await Promise.allSettled(instances.map((i) => i.stop({ graceMs: 0 })));
  };
  return {
    hub,
    instances,
    client,
    logs: sink.records,
    container(service) {
      for (const i of instances) {
        const c = i.containers.find((x) => x.name === service);
        if (c) return c;
      }
      throw new Error(`no running service "${service}" in this test cluster`);
    },
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
