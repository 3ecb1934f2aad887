/**
 * Leased and delayed items by due time (lease expiry or end of delay), so one timer for the
 * earliest due item serves the whole queue instead of one timer per item. A binary min-heap of
 * (due, slot) with each slot's heap index in a Map: only leased and delayed items pay for a due
 * time (a million waiting items pay nothing), an ack removes its entry in O(log n), and the heap
 * never holds stale entries.
 */
export class DueHeap {
  #slots = new Int32Array(1024);
  #dues = new Float64Array(1024);
  readonly #pos: Map<number, number> | undefined;
  /**
   * Dense mode: heap index + 1 per slot (0: not in the heap), for the memory store, where a Map
   * operation per heap move was about 7% of the push + lease + ack cycle. It costs 4 bytes per
   * slot ever leased or delayed, which a store keeping a million waiting items on disk avoids.
   */
  #dense: Int32Array | undefined;
  #size = 0;

  /** `dense`: keep heap positions in a per-slot array instead of a Map (see #dense). */
  constructor(dense = false) {
    if (dense) this.#dense = new Int32Array(1024);
    else this.#pos = new Map();
  }

  get size(): number {
    return this.#size;
  }

  /** The earliest due time, or Infinity when empty. */
  peekDue(): number {
    return this.#size === 0 ? Infinity : this.#dues[0]!;
  }

  peek(): number {
    return this.#size === 0 ? -1 : this.#slots[0]!;
  }

  /** The slot's due time, or 0 when it is not in the heap. */
  dueOf(slot: number): number {
    const i = this.#indexOf(slot);
    return i < 0 ? 0 : this.#dues[i]!;
  }

  push(slot: number, due: number): void {
    if (this.#size === this.#slots.length) {
      const slots = new Int32Array(this.#slots.length * 2);
      slots.set(this.#slots);
      this.#slots = slots;
      const dues = new Float64Array(this.#dues.length * 2);
      dues.set(this.#dues);
      this.#dues = dues;
    }
    const i = this.#size++;
    this.#place(i, slot, due);
    this.#up(i);
  }

  remove(slot: number): boolean {
    const i = this.#indexOf(slot);
    if (i < 0) return false;
    if (this.#dense !== undefined) this.#dense[slot] = 0;
    else this.#pos!.delete(slot);
    const n = --this.#size;
    if (i < n) {
      const last = this.#slots[n]!;
      this.#place(i, last, this.#dues[n]!);
      this.#up(i);
      this.#down(this.#indexOf(last));
    }
    return true;
  }

  clear(): void {
    if (this.#dense !== undefined) this.#dense.fill(0);
    else this.#pos!.clear();
    this.#size = 0;
  }

  /** Heap index of `slot`, or -1. */
  #indexOf(slot: number): number {
    const d = this.#dense;
    if (d !== undefined) return slot < d.length ? d[slot]! - 1 : -1;
    const i = this.#pos!.get(slot);
    return i === undefined ? -1 : i;
  }

  #place(i: number, slot: number, due: number): void {
    this.#slots[i] = slot;
    this.#dues[i] = due;
    let d = this.#dense;
    if (d === undefined) {
      this.#pos!.set(slot, i);
      return;
    }
    if (slot >= d.length) {
      const next = new Int32Array(Math.max(slot + 1, d.length * 2));
      next.set(d);
      this.#dense = d = next;
    }
    d[slot] = i + 1;
  }

  #up(i: number): void {
    const slot = this.#slots[i]!;
    const due = this.#dues[i]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.#dues[p]! <= due) break;
      this.#place(i, this.#slots[p]!, this.#dues[p]!);
      i = p;
    }
    this.#place(i, slot, due);
  }

  #down(i: number): void {
    const n = this.#size;
    const slot = this.#slots[i]!;
    const due = this.#dues[i]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && this.#dues[c + 1]! < this.#dues[c]!) c++;
      if (this.#dues[c]! >= due) break;
      this.#place(i, this.#slots[c]!, this.#dues[c]!);
      i = c;
    }
    this.#place(i, slot, due);
  }
}
