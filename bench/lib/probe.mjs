// Whether a piece of svc exists yet on this checkout (built in dist).
import { createRpcTransport } from '@svc/core';
import { MemoryRegistry, MemoryRegistryStore } from '@svc/core/testing';

const silent = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };

/** null when createRpcTransport knows `url`'s scheme, else why not. */
export async function rpcTransportMissing(url) {
  const ctx = { cluster: 'bench', bindHost: '127.0.0.1', log: silent, clientName: 'probe' };
  try {
    const t = await createRpcTransport(url, new MemoryRegistry(new MemoryRegistryStore()), ctx);
    await t.close();
    return null;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

/** What to print for a baseline measured while its svc side waits. */
export function baselineNote(inflight, name, figure, unit, waitsFor) {
  const r = Math.round(figure.rate).toLocaleString('en-US');
  const lat = Number.isFinite(figure.p50)
    ? `, p50/p99 ${figure.p50.toFixed(2)}/${figure.p99.toFixed(2)} ms`
    : '';
  return `${name}${inflight ? ` at ${inflight} in flight` : ''} = ${r} ${unit}${lat}; the svc side waits for ${waitsFor}`;
}
