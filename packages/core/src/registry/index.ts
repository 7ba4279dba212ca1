import type { BackendContext } from '../backends.js';
import { ConfigError } from '../errors.js';
import type { Registry } from './registry.js';

export type {
  InstanceRecord,
  Registry,
  SubscriptionInfo,
  SubscriptionMode,
  Unsubscribe,
} from './registry.js';
export { MemoryRegistry, MemoryRegistryStore } from './memory.js';
export { LocalRegistry, localRegistryDir, type LocalRegistryOptions } from './local.js';

/**
 * Resolves a registry from its config value: `local` (a directory on this
 * machine) or `zookeeper://host:port/root`. Backends load lazily so that
 * an unused client library costs nothing.
 */
export async function createRegistry(url: string, ctx: BackendContext): Promise<Registry> {
  const scheme = schemeOf(url);
  switch (scheme) {
    case 'local': {
      const { LocalRegistry } = await import('./local.js');
      return LocalRegistry.open(ctx);
    }
    case 'zookeeper': {
      const { ZooKeeperRegistry } = await import('./zookeeper.js');
      return ZooKeeperRegistry.connect(url, ctx);
    }
    default:
      throw new ConfigError(
        `unknown registry "${url}": expected "local" or "zookeeper://host:port/root"`,
      );
  }
}

export function schemeOf(url: string): string {
  const m = /^([a-z][a-z0-9+.-]*):/i.exec(url);
  return (m ? m[1]! : url).toLowerCase();
}
