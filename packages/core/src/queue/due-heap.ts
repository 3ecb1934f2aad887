/**
 * Leased and delayed items by due time (lease expiry or end of delay), so one timer for the
 * earliest due item serves the whole queue instead of one timer per item. A binary min-heap of
 * slots with each slot's heap position kept, so an ack removes its entry in O(log n) and the
 * heap never holds stale entries.
 */

export interface DueKeys {
  due: Float64Array;
  /** Heap index per slot, -1 when absent. */
  duePos: Int32Array;
}

export class DueHeap {
  readonly #k: DueKeys;
  #heap = new Int32Array(1024);
  #size = 0;

  constructor(keys: DueKeys) {
    this.#k = keys;
  }

  get size(): number {
    return this.#size;
  }

  /** The earliest due time, or Infinity when empty. */
  peekDue(): number {
    return this.#size === 0 ? Infinity : this.#k.due[this.#heap[0]!]!;
  }

  peek(): number {
    return this.#size === 0 ? -1 : this.#heap[0]!;
  }

  push(slot: number): void {
    if (this.#size === this.#heap.length) {
      const next = new Int32Array(this.#heap.length * 2);
      next.set(this.#heap);
      this.#heap = next;
    }
    const i = this.#size++;
    this.#heap[i] = slot;
    this.#k.duePos[slot] = i;
    this.#up(i);
  }

  remove(slot: number): boolean {
    const i = this.#k.duePos[slot]!;
    if (i < 0) return false;
    this.#k.duePos[slot] = -1;
    const last = this.#heap[--this.#size]!;
    if (i < this.#size) {
      this.#heap[i] = last;
      this.#k.duePos[last] = i;
      this.#up(i);
      this.#down(this.#k.duePos[last]!);
    }
    return true;
  }

  clear(): void {
    for (let i = 0; i < this.#size; i++) this.#k.duePos[this.#heap[i]!] = -1;
    this.#size = 0;
  }

  #up(i: number): void {
    const h = this.#heap;
    const due = this.#k.due;
    const pos = this.#k.duePos;
    const slot = h[i]!;
    const d = due[slot]!;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const ps = h[p]!;
      if (due[ps]! <= d) break;
      h[i] = ps;
      pos[ps] = i;
      i = p;
    }
    h[i] = slot;
    pos[slot] = i;
  }

  #down(i: number): void {
    const h = this.#heap;
    const due = this.#k.due;
    const pos = this.#k.duePos;
    const n = this.#size;
    const slot = h[i]!;
    const d = due[slot]!;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && due[h[c + 1]!]! < due[h[c]!]!) c++;
      if (due[h[c]!]! >= d) break;
      h[i] = h[c]!;
      pos[h[i]!] = i;
      i = c;
    }
    h[i] = slot;
    pos[slot] = i;
  }
}
