/**
 * The ready items in order, as a list of sorted chunks of slot numbers (a B-tree of height
 * two). Why not a binary heap: position(id) ("you are number 3") needs a rank, which a heap
 * cannot give without a full scan; here rank = sizes of the earlier chunks + the index inside
 * the chunk. Slots are 4 bytes; their keys are read from the shared typed arrays.
 */

/** Where the order keys live; the arrays are replaced when the slot capacity grows. */
export interface OrderKeys {
  /** Order key per slot: lower is served first (see priority-queue.ts for the aging formula). */
  key: Float64Array;
  /** Sequence per slot (relative to a base the owner keeps, see LocalIndex): the FIFO tie-break. */
  seq: Uint32Array;
}

const CHUNK = 512;
/** Fewest slots either part of a split chunk keeps. */
const MIN_PART = CHUNK >> 3;

class Chunk {
  a = new Int32Array(CHUNK);
  lo = 0;
  hi = 0;
  /** The slot last inserted here (-1: none), to tell appends to a band from scattered inserts. */
  last = -1;
  get length(): number {
    return this.hi - this.lo;
  }
}

export class OrderIndex {
  readonly #k: OrderKeys;
  #chunks: Chunk[] = [];
  #size = 0;
  /**
   * The last chunk emptied, kept for the next one needed: a queue drained as fast as it fills
   * empties and needs a chunk on every turn, and allocating a 2 KB array each time showed in
   * profiles of the memory store.
   */
  #spare: Chunk | undefined;

  constructor(keys: OrderKeys) {
    this.#k = keys;
  }

  get size(): number {
    return this.#size;
  }

  /** Bytes of the chunks' arrays (for memory accounting in tests and the bench). */
  get bytes(): number {
    return this.#chunks.length * CHUNK * 4;
  }

  /** True when slot x is served before slot y. */
  #before(x: number, y: number): boolean {
    const key = this.#k.key;
    const a = key[x]!;
    const b = key[y]!;
    return a < b || (a === b && this.#k.seq[x]! < this.#k.seq[y]!);
  }

  /** Index of the first chunk whose last slot is not before `slot` (or the last chunk). */
  #chunkFor(slot: number): number {
    const cs = this.#chunks;
    let lo = 0;
    let hi = cs.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const c = cs[mid]!;
      if (this.#before(c.a[c.hi - 1]!, slot)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Index inside chunk of the first slot not before `slot`. */
  #indexIn(c: Chunk, slot: number): number {
    let lo = c.lo;
    let hi = c.hi;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#before(c.a[mid]!, slot)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  insert(slot: number): void {
    this.#size++;
    const cs = this.#chunks;
    if (cs.length === 0) {
      const c = this.#take();
      c.a[0] = slot;
      c.hi = 1;
      cs.push(c);
      return;
    }
    const ci = this.#chunkFor(slot);
    const c = cs[ci]!;
    const at = this.#indexIn(c, slot);
    // A slot that goes first in its chunk may as well go last in the previous one. New items land
    // at the end of their priority band, which after a split is the front of a chunk: appending
    // there fills the chunk before instead of leaving it as it was cut.
    if (at === c.lo && ci > 0) {
      const prev = cs[ci - 1]!;
      if (prev.hi < CHUNK) {
        prev.a[prev.hi++] = slot;
        prev.last = slot;
        return;
      }
    }
    if (c.length === CHUNK) {
      if (at === c.hi || at === c.lo) {
        const fresh = this.#take();
        fresh.a[0] = slot;
        fresh.hi = 1;
        fresh.last = slot;
        cs.splice(at === c.hi ? ci + 1 : ci, 0, fresh);
        return;
      }
      // Appends to a priority band (the slot goes right after the one inserted last) cut the chunk
      // where the slot goes: halving left every chunk of a steady fill about half full for good
      // (a million items over five priorities took 7.2 bytes each for the chunks instead of 4).
      // Scattered inserts halve, which fills chunks best for them; neither part gets fewer than
      // MIN_PART slots.
      const rel = at - c.lo;
      const cut = c.a[at - 1] === c.last ? Math.min(Math.max(rel, MIN_PART), CHUNK - MIN_PART) : CHUNK >> 1;
      const right = this.#take();
      right.a.set(c.a.subarray(c.lo + cut, c.hi), 0);
      right.hi = CHUNK - cut;
      c.a.copyWithin(0, c.lo, c.lo + cut);
      c.lo = 0;
      c.hi = cut;
      cs.splice(ci + 1, 0, right);
      const into = rel <= cut ? c : right;
      const p = rel <= cut ? rel : rel - cut;
      into.a.copyWithin(p + 1, p, into.hi);
      into.a[p] = slot;
      into.hi++;
      into.last = slot;
      return;
    }
    c.last = slot;
    if (c.hi < CHUNK && (c.lo === 0 || c.hi - at <= at - c.lo)) {
      c.a.copyWithin(at + 1, at, c.hi);
      c.a[at] = slot;
      c.hi++;
    } else {
      c.a.copyWithin(c.lo - 1, c.lo, at);
      c.lo--;
      c.a[at - 1] = slot;
    }
  }

  /** The first slot, or -1. */
  first(): number {
    const c = this.#chunks[0];
    return c === undefined ? -1 : c.a[c.lo]!;
  }

  /** Removes and returns the first slot, or -1. */
  shift(): number {
    const c = this.#chunks[0];
    if (c === undefined) return -1;
    const slot = c.a[c.lo++]!;
    this.#size--;
    if (c.lo === c.hi) this.#spare = this.#chunks.shift();
    return slot;
  }

  /** Removes `slot`; false when it is not in the index. */
  remove(slot: number): boolean {
    const loc = this.#locate(slot);
    if (loc === undefined) return false;
    const [ci, p] = loc;
    const c = this.#chunks[ci]!;
    if (p - c.lo < c.hi - p) {
      c.a.copyWithin(c.lo + 1, c.lo, p);
      c.lo++;
    } else {
      c.a.copyWithin(p, p + 1, c.hi);
      c.hi--;
    }
    this.#size--;
    if (c.lo === c.hi) this.#spare = this.#chunks.splice(ci, 1)[0];
    else if (c.length < CHUNK >> 3) this.#mergeSmall(ci);
    return true;
  }

  /** 0-based rank of `slot` among the ready items, or -1. */
  rank(slot: number): number {
    const loc = this.#locate(slot);
    if (loc === undefined) return -1;
    const [ci, p] = loc;
    let r = 0;
    for (let i = 0; i < ci; i++) r += this.#chunks[i]!.length;
    return r + p - this.#chunks[ci]!.lo;
  }

  /** Up to `n` slots from the front, in order. */
  head(n: number): number[] {
    const out: number[] = [];
    for (const c of this.#chunks) {
      for (let i = c.lo; i < c.hi && out.length < n; i++) out.push(c.a[i]!);
      if (out.length >= n) break;
    }
    return out;
  }

  clear(): void {
    this.#chunks = [];
    this.#size = 0;
  }

  /**
   * Fills an empty index with slots already in order (recovery): chunks 7/8 full, so a restarted
   * queue has few chunks (cheap rank) and later inserts rarely split.
   */
  load(sorted: ArrayLike<number>): void {
    if (this.#size !== 0) throw new Error('OrderIndex.load needs an empty index');
    const per = CHUNK - (CHUNK >> 3);
    for (let i = 0; i < sorted.length; i += per) {
      const c = this.#take();
      const n = Math.min(per, sorted.length - i);
      for (let j = 0; j < n; j++) c.a[j] = sorted[i + j]!;
      c.hi = n;
      this.#chunks.push(c);
    }
    this.#size = sorted.length;
  }

  /** Sorts slots into serving order (for load). */
  sort(slots: Int32Array): Int32Array {
    const key = this.#k.key;
    const seq = this.#k.seq;
    return slots.sort((x, y) => key[x]! - key[y]! || seq[x]! - seq[y]!);
  }

  #take(): Chunk {
    const c = this.#spare;
    if (c === undefined) return new Chunk();
    this.#spare = undefined;
    c.lo = 0;
    c.hi = 0;
    c.last = -1;
    return c;
  }

  #locate(slot: number): [number, number] | undefined {
    if (this.#chunks.length === 0) return undefined;
    const ci = this.#chunkFor(slot);
    const c = this.#chunks[ci]!;
    const p = this.#indexIn(c, slot);
    return p < c.hi && c.a[p] === slot ? [ci, p] : undefined;
  }

  /** Keeps the chunk count near size / CHUNK after scattered removals, so rank stays cheap. */
  #mergeSmall(ci: number): void {
    const c = this.#chunks[ci]!;
    const next = this.#chunks[ci + 1];
    if (next === undefined || c.length + next.length > CHUNK) return;
    c.a.copyWithin(0, c.lo, c.hi);
    c.hi -= c.lo;
    c.lo = 0;
    c.a.set(next.a.subarray(next.lo, next.hi), c.hi);
    c.hi += next.length;
    this.#chunks.splice(ci + 1, 1);
  }
}
