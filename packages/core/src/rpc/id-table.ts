/**
 * Values by an integer id that mostly comes in order (a client numbers its
 * calls 1, 2, 3...): the calls waiting for an answer, those a server runs
 * for a connection, an AMQP consumer's messages in flight. A `Map` held
 * them before.
 *
 * A `Map` whose entries come and go thousands of times a second makes V8
 * allocate a new hash table every few dozen of them, and a table it
 * replaces keeps a link to its successor. Once one of those tables lives
 * through two young-generation collections (it is the live one at both)
 * it moves to the old generation, and from there it keeps every later
 * table alive, each with the calls it held and everything they reach
 * (their promises, worker contexts, requests): each young collection then
 * moved hundreds of bytes a call (about 400 at 50 calls in flight) into
 * the old generation, until a full collection. Here an id has one slot, `id & mask`, in arrays that are
 * never replaced but to grow: nothing links one call to the next. An id
 * that finds its slot held by a call still waiting (a slow one, outlived
 * by a table's length of others) moves that call to a `Map` of
 * stragglers, where it stays until it settles; ids that are not 31-bit
 * integers go there too (a peer's id is whatever it sent).
 */
export class IdTable<V> {
  /** the id in each slot (a slot is free when its value is undefined) */
  #ids: Int32Array;
  #values: (V | undefined)[];
  #mask: number;
  #size = 0;
  /** entries whose slot is taken, or whose id is not a small integer */
  #spill: Map<number, V> | undefined;

  constructor(capacity = 16) {
    const length = 2 ** Math.ceil(Math.log2(Math.max(2, capacity)));
    this.#ids = new Int32Array(length);
    this.#values = new Array<V | undefined>(length).fill(undefined);
    this.#mask = length - 1;
  }

  /** Entries held now. */
  get size(): number {
    return this.#size + (this.#spill?.size ?? 0);
  }

  get(id: number): V | undefined {
    const i = slot(id, this.#mask);
    if (i >= 0 && this.#ids[i] === id) {
      const value = this.#values[i];
      if (value !== undefined) return value;
    }
    return this.#spill?.get(id);
  }

  /** Holds `value` (not undefined) under `id`, in place of what it held. */
  set(id: number, value: V): this {
    const i = slot(id, this.#mask);
    if (i < 0) {
      (this.#spill ??= new Map()).set(id, value);
      return this;
    }
    const held = this.#values[i];
    if (held === undefined || this.#ids[i] === id) {
      if (held === undefined) {
        this.#spill?.delete(id);
        this.#size++;
      }
      this.#ids[i] = id;
      this.#values[i] = value;
      return this;
    }
    if (this.#size * 2 > this.#ids.length && this.#ids.length < MAX_SLOTS) {
      this.#grow();
      return this.set(id, value);
    }
    // A straggler: it moves aside for the newer call.
    const spill = (this.#spill ??= new Map<number, V>());
    spill.delete(id);
    spill.set(this.#ids[i] as number, held);
    this.#ids[i] = id;
    this.#values[i] = value;
    return this;
  }

  delete(id: number): boolean {
    const i = slot(id, this.#mask);
    if (i >= 0 && this.#ids[i] === id && this.#values[i] !== undefined) {
      this.#values[i] = undefined;
      this.#size--;
      return true;
    }
    return this.#spill?.delete(id) ?? false;
  }

  clear(): void {
    this.#values.fill(undefined);
    this.#size = 0;
    this.#spill = undefined;
  }

  /** The entries held when it is called (safe to delete from while iterating). */
  entries(): IterableIterator<[number, V]> {
    const out: [number, V][] = [];
    for (let i = 0; i < this.#values.length; i++) {
      const value = this.#values[i];
      if (value !== undefined) out.push([this.#ids[i] as number, value]);
    }
    if (this.#spill) out.push(...this.#spill);
    return out[Symbol.iterator]();
  }

  values(): IterableIterator<V> {
    return Array.from(this.entries(), (entry) => entry[1])[Symbol.iterator]();
  }

  [Symbol.iterator](): IterableIterator<[number, V]> {
    return this.entries();
  }

  #grow(): void {
    const ids = this.#ids;
    const values = this.#values;
    const length = ids.length * 2;
    this.#ids = new Int32Array(length);
    this.#values = new Array<V | undefined>(length).fill(undefined);
    this.#mask = length - 1;
    this.#size = 0;
    for (let i = 0; i < ids.length; i++) {
      const value = values[i];
      if (value !== undefined) this.set(ids[i] as number, value);
    }
  }
}

/** Slots at most: 65536 calls in flight on one connection; more go to the stragglers' Map. */
const MAX_SLOTS = 1 << 16;

/** The slot of `id`, or -1 when it is not an integer from 0 to 2^31 - 1. */
function slot(id: number, mask: number): number {
  return (id | 0) === id && id >= 0 ? id & mask : -1;
}
