import type { ClusterClient } from '@svc/core';

/** What tab completion knows: service names and, once asked, each service's RPC methods. */
export interface CompletionSource {
  services(): Promise<string[]>;
  methods(service: string): Promise<string[]>;
}

const IDENT = /^[A-Za-z_$][\w$]*$/;

/**
 * Completes `rpc.Gre` to service names and `rpc.Greeting.gr` to method
 * names. Returns undefined when the line does not end in an `rpc.`
 * expression (the REPL's own completion then applies).
 */
export async function completeRpc(
  line: string,
  source: CompletionSource,
): Promise<[string[], string] | undefined> {
  const method = /(?:^|[^\w$.])rpc\.([A-Za-z_$][\w$]*)\.([\w$]*)$/.exec(line);
  if (method) {
    const [, service, prefix] = method as unknown as [string, string, string];
    const names = (await source.methods(service)).filter((m) => IDENT.test(m));
    return [
      names.filter((m) => m.startsWith(prefix)).map((m) => `rpc.${service}.${m}`),
      `rpc.${service}.${prefix}`,
    ];
  }
  const service = /(?:^|[^\w$.])rpc\.([\w$]*)$/.exec(line);
  if (service) {
    const prefix = service[1]!;
    const names = (await source.services()).filter((s) => IDENT.test(s));
    return [names.filter((s) => s.startsWith(prefix)).map((s) => `rpc.${s}`), `rpc.${prefix}`];
  }
  return undefined;
}

/**
 * Services from the registry and methods from `svc.inspect()`, each kept
 * for a few seconds so that pressing Tab twice costs one round trip.
 */
export function clusterCompletion(client: ClusterClient, ttlMs = 5000): CompletionSource {
  let services: { at: number; names: string[] } | undefined;
  const methods = new Map<string, { at: number; names: string[] }>();
  const fresh = (at: number) => Date.now() - at < ttlMs;
  return {
    async services() {
      if (services && fresh(services.at)) return services.names;
      try {
        services = { at: Date.now(), names: [...(await client.discover()).keys()] };
      } catch {
        services = { at: Date.now(), names: [] };
      }
      return services.names;
    },
    async methods(service) {
      const cached = methods.get(service);
      if (cached && fresh(cached.at)) return cached.names;
      let names: string[] = [];
      try {
        const d = await client.inspect(service, { timeout: 2000 });
        names = d.rpc.map((m) => m.name).sort();
      } catch {
        // An unknown or unreachable service completes to nothing.
      }
      methods.set(service, { at: Date.now(), names });
      return names;
    },
  };
}
