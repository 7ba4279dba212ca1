import { DependencyProvider } from '@svc/core';

/**
 * An in-process cache, one per running service: every worker of the
 * service gets the same Map, and another instance has its own. That is
 * why invalidating it takes a broadcast event.
 */
export class LocalCache extends DependencyProvider<Map<string, unknown>> {
  readonly #entries = new Map<string, unknown>();

  getDependency(): Map<string, unknown> {
    return this.#entries;
  }

  override stop(): void {
    this.#entries.clear();
  }

  override kill(): void {
    this.#entries.clear();
  }
}
