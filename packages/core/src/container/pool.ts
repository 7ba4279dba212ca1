/**
 * The worker slots of one container: at most `size` workers hold one at
 * once, the others wait in line, in order. A free slot is taken without a
 * promise, so that a container with room starts its worker synchronously.
 * `drain` waits until no worker runs.
 */
export class WorkerPool {
  readonly #size: number;
  /** slots taken */
  #active = 0;
  /** workers started and not yet ended (a slot is taken just before its worker starts) */
  #running = 0;
  #closed = false;
  readonly #waiting: Array<() => void> = [];
  readonly #idle: Array<() => void> = [];

  constructor(size: number) {
    this.#size = size;
  }

  /** Slots taken now. */
  get active(): number {
    return this.#active;
  }

  /** Workers waiting for a slot. */
  get queued(): number {
    return this.#waiting.length;
  }

  /** Workers running now. */
  get running(): number {
    return this.#running;
  }

  /** Takes a free slot at once; false when every slot is taken. */
  tryTake(): boolean {
    if (this.#active >= this.#size) return false;
    this.#active++;
    return true;
  }

  /** Waits for a slot; resolves false, holding none, once the pool is closed. */
  async take(): Promise<boolean> {
    while (this.#active >= this.#size) {
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
      if (this.#closed) return false;
    }
    this.#active++;
    return true;
  }

  /** A worker starts in the slot just taken. */
  started(): void {
    this.#running++;
  }

  /** Gives back a slot taken for a worker that will not start after all (its call expired or was cancelled while it waited). */
  release(): void {
    this.#active--;
    this.#waiting.shift()?.();
  }

  /** A worker ended: its slot goes to the next in line. */
  ended(): void {
    this.#running--;
    this.#active--;
    this.#waiting.shift()?.();
    if (this.#running === 0) for (const idle of this.#idle.splice(0)) idle();
  }

  /** Takes no more workers: those waiting for a slot are turned away. */
  close(): void {
    this.#closed = true;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  /** Waits until no worker runs, or `timeoutMs`; resolves with how many still run. */
  async drain(timeoutMs: number): Promise<number> {
    if (this.#running === 0) return 0;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)));
    const idle = new Promise<void>((resolve) => this.#idle.push(resolve));
    await Promise.race([idle, timeout]);
    clearTimeout(timer);
    return this.#running;
  }
}
