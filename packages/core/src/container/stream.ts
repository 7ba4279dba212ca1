import { runInContext, type WorkerContext } from '../context.js';
import type { Logger } from '../log/logger.js';
import type { ItemSource } from '../rpc/transport.js';
import type { WorkerBinding } from './worker.js';

/** How a streaming worker ended. */
export interface StreamOutcome {
  items: number;
  /** what stopped the stream before its end (the caller stopped reading, went away, the deadline) */
  stopped?: string;
}

/**
 * The items of one streaming worker: its generator, advanced in the
 * worker's context one item at a time as the transport pulls, and the
 * worker's end reported once, when the generator is done, throws, or is
 * stopped early.
 */
export class WorkerStream implements ItemSource {
  readonly #generator: AsyncIterator<unknown, unknown>;
  readonly #ctx: WorkerContext;
  readonly #binding: WorkerBinding;
  readonly #finish: (error: unknown, failed: boolean, outcome: StreamOutcome) => Promise<void>;
  readonly #log: Logger;
  readonly #next = () => this.#generator.next();
  #items = 0;
  /** no more items are taken: the stream ended, or is being stopped */
  #over = false;

  constructor(
    generator: AsyncIterator<unknown, unknown>,
    ctx: WorkerContext,
    binding: WorkerBinding,
    finish: (error: unknown, failed: boolean, outcome: StreamOutcome) => Promise<void>,
    log: Logger,
  ) {
    this.#generator = generator;
    this.#ctx = ctx;
    this.#binding = binding;
    this.#finish = finish;
    this.#log = log;
  }

  next(): Promise<IteratorResult<unknown, unknown>> {
    if (this.#over) return Promise.resolve({ done: true, value: undefined });
    return runInContext(this.#ctx, this.#next).then(
      async (next) => {
        if (this.#over) return next;
        if (!next.done) {
          this.#items++;
          return next;
        }
        this.#over = true;
        await this.#end(undefined, false, { items: this.#items });
        return next;
      },
      async (err: unknown) => {
        if (!this.#over) {
          this.#over = true;
          await this.#end(err, true, { items: this.#items });
        }
        throw err;
      },
    );
  }

  async return(why: string): Promise<void> {
    if (this.#over) return;
    this.#over = true;
    try {
      // Waits for an item being made, then runs the generator's finally blocks.
      await runInContext(this.#ctx, () => this.#generator.return?.(undefined));
    } catch (err) {
      this.#log.warn(`stopping a stream failed: ${(err as Error).message}`);
    }
    await this.#end(undefined, false, { items: this.#items, stopped: why });
  }

  /** The worker's end: after its unawaited emits, reported, its slot given back. */
  async #end(error: unknown, failed: boolean, outcome: StreamOutcome): Promise<void> {
    if (this.#binding.pending) await Promise.allSettled(this.#binding.pending);
    try {
      await this.#finish(error, failed, outcome);
    } catch (err) {
      this.#log.error(`a worker hook failed after a stream: ${(err as Error).message}`);
    }
  }
}
