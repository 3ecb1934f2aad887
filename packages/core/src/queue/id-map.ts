/**
 * The id -> slot map of the memory store: a JS Map, because V8 caches a string's hash in the
 * string itself, so an ack with the id string a lease handed out costs no hashing at all, where
 * the compact IdTable hashes every id in JS on every lookup (a sixth of the push + lease + ack
 * cycle in profiles). It costs a Map entry per item (about 30-70 B), which the memory store, that
 * holds an object per item anyway, can afford; the LevelDB store keeps the compact IdTable.
 */
import type { IdIndex } from './id-table.js';

export class IdMap implements IdIndex {
  readonly #slots = new Map<string, number>();
  #ids: Array<string | undefined> = [];

  get size(): number {
    return this.#slots.size;
  }

  /** Nothing is held in typed arrays. */
  get bytes(): number {
    return 0;
  }

  growSlots(): void {}

  get(id: string): number {
    return this.#slots.get(id) ?? -1;
  }

  set(id: string, slot: number): void {
    this.#slots.set(id, slot);
    this.#ids[slot] = id;
  }

  deleteSlot(slot: number): void {
    const id = this.#ids[slot];
    if (id === undefined) return;
    this.#slots.delete(id);
    this.#ids[slot] = undefined;
  }

  idOf(slot: number): string {
    const id = this.#ids[slot];
    if (id === undefined) throw new Error(`slot ${slot} holds no id`);
    return id;
  }
}
