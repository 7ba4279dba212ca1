import type { EntrypointMeta } from '../decorators.js';
import type { ServiceContainer } from './container.js';

type TimerEp = Extract<EntrypointMeta, { kind: 'timer' }>;

/**
 * The `@timer` entrypoints of one service. Each run is a worker; the next
 * one is scheduled when it ends, `interval` after it began, so that a
 * timer never overlaps itself.
 */
export class TimerEntrypoints {
  readonly #container: ServiceContainer;
  readonly #timers = new Set<NodeJS.Timeout>();

  constructor(container: ServiceContainer) {
    this.#container = container;
  }

  start(): void {
    for (const ep of this.#container.entrypoints) if (ep.kind === 'timer') this.#start(ep);
  }

  /** Cancels every scheduled run; a run under way finishes as a worker. */
  stop(): void {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
  }

  #start(ep: TimerEp): void {
    const container = this.#container;
    const tick = async () => {
      if (container.state !== 'started') return;
      const began = performance.now();
      try {
        await container.spawnWorker(ep, []);
      } catch {
        // logged by the worker
      }
      if (container.state !== 'started') return;
      schedule(Math.max(0, ep.interval - (performance.now() - began)));
    };
    const schedule = (ms: number) => {
      const t = setTimeout(() => {
        this.#timers.delete(t);
        void tick();
      }, ms);
      this.#timers.add(t);
    };
    schedule(ep.options.eager ? 0 : ep.interval);
  }
}
