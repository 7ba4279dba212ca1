// A registry stub for benchmarks only: records this process registers, plus
// fixed records of peers passed in by the runner. The real registries
// (local, ZooKeeper) cross processes; this one keeps them out of the figures.

export class StaticRegistry {
  kind = 'static';
  #records = new Map();

  /** @param {Array<{ service: string, endpoints: Record<string, string> }>} peers */
  constructor(peers = []) {
    for (const [i, p] of peers.entries()) {
      this.#records.set(`${p.service}\0peer${i}`, {
        id: `peer${i}`,
        host: '127.0.0.1',
        pid: 0,
        startedAt: 0,
        subscriptions: [],
        ...p,
      });
    }
  }

  async register(record) {
    this.#records.set(`${record.service}\0${record.id}`, record);
  }
  async unregister(service, id) {
    this.#records.delete(`${service}\0${id}`);
  }
  async lookup(service) {
    return [...this.#records.values()].filter((r) => r.service === service);
  }
  async list() {
    return [...this.#records.values()];
  }
  watch(service, onChange) {
    queueMicrotask(() => void this.lookup(service).then(onChange));
    return () => {};
  }
  async close() {}
}
