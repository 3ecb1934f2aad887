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
  readonly #pos = new Map<number, number>();
  #size = 0;

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
    const i = this.#pos.get(slot);
    return i === undefined ? 0 : this.#dues[i]!;
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
    const i = this.#pos.get(slot);
    if (i === undefined) return false;
    this.#pos.delete(slot);
    const n = --this.#size;
    if (i < n) {
      const last = this.#slots[n]!;
      this.#place(i, last, this.#dues[n]!);
      this.#up(i);
      this.#down(this.#pos.get(last)!);
    }
    return true;
  }

  clear(): void {
    this.#pos.clear();
    this.#size = 0;
  }

  #place(i: number, slot: number, due: number): void {
    this.#slots[i] = slot;
    this.#dues[i] = due;
    this.#pos.set(slot, i);
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
