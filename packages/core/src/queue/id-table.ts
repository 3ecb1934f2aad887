/**
 * A compact id -> slot map. Ids live as bytes in one arena and the hash table is an Int32Array,
 * because a JS Map with string keys costs about 70 B per entry and the LevelDB store must hold a
 * million waiting ids in well under 128 MB (ANCHORS.md). Ids are printable ASCII (validated by the
 * queue), so one byte per character.
 */

import { FNV_OFFSET, FNV_PRIME, fmix32, hashString } from '../util/hash.js';

const EMPTY = -1;
const TOMBSTONE = -2;
/** Most entries (live + tombstones) per table cell before a rehash. */
const MAX_LOAD = 0.75;
/** Arena bytes reserved per slot of the initial capacity (length byte + a typical short id). */
const ARENA_PER_SLOT = 16;

/**
 * Cells for `n` entries at half the maximum load. Any size, not a power of two: with powers of
 * two a million ids took a 2M-cell table (8 MB); sized this way they take 1.33M cells.
 */
function cellsFor(n: number): number {
  return Math.max(1024, Math.ceil(n / MAX_LOAD));
}

/** What LocalIndex needs of an id -> slot map (the compact IdTable, or the memory store's IdMap). */
export interface IdIndex {
  readonly size: number;
  /** Bytes held in typed arrays. */
  readonly bytes: number;
  /** Slot of `id`, or -1. `h` is hashId(id) when the caller has it (an IdMap ignores it). */
  get(id: string, h?: number): number;
  /** Maps `id` (absent) to `slot`. */
  set(id: string, slot: number, h?: number): void;
  deleteSlot(slot: number): void;
  idOf(slot: number): string;
  growSlots(capacity: number): void;
}

export class IdTable implements IdIndex {
  #arena: Uint8Array;
  #arenaLen = 0;
  #garbage = 0;
  /**
   * Arena offset of each slot's id (length byte first), -1 when the slot holds none. No hash is
   * kept per slot (4 B per item): probes compare lengths, then characters from the end, where
   * generated ids (prefix + counter) differ; deletes and rehashes hash the arena bytes again.
   */
  #offsets: Int32Array;
  #table: Int32Array;
  /** table.length / 2^32: a hash times this is its home cell. */
  #scale: number;
  #size = 0;
  #used = 0; // live entries + tombstones
  /**
   * Table cell of the last successful get(): an ack looks its id up and then deletes that slot,
   * and without this the delete hashed the id a second time (from the arena bytes) to find it.
   */
  #lastCell = -1;

  /**
   * Sized for `slotCapacity` ids up front, so that filling a large backlog never grows (and
   * copies) the table or the arena: each growth left the old copy as a hole in the C heap.
   * Arena bytes never written are never touched, so they cost address space, not RSS.
   */
  constructor(slotCapacity: number) {
    this.#offsets = new Int32Array(slotCapacity).fill(-1);
    this.#arena = new Uint8Array(Math.max(1 << 16, slotCapacity * ARENA_PER_SLOT));
    this.#table = new Int32Array(cellsFor(slotCapacity)).fill(EMPTY);
    this.#scale = this.#table.length / 2 ** 32;
  }

  get size(): number {
    return this.#size;
  }

  /** Grows the per-slot offsets to `capacity` slots. */
  growSlots(capacity: number): void {
    if (capacity <= this.#offsets.length) return;
    const next = new Int32Array(capacity).fill(-1);
    next.set(this.#offsets);
    this.#offsets = next;
  }

  get(id: string, h: number = hashString(id)): number {
    const table = this.#table;
    const n = table.length;
    let i = this.#home(h);
    for (;;) {
      const slot = table[i]!;
      if (slot === EMPTY) return -1;
      if (slot >= 0 && this.#equals(slot, id)) {
        this.#lastCell = i;
        return slot;
      }
      if (++i === n) i = 0;
    }
  }

  /** Maps `id` to `slot`; the caller has checked that `id` is absent. `h` is hashId(id). */
  set(id: string, slot: number, h: number = hashString(id)): void {
    if (this.#used + 1 > this.#table.length * MAX_LOAD) this.#rehash();
    this.#writeId(slot, id);
    this.#insert(h, slot);
    this.#size++;
  }

  /** Forgets the id held by `slot`. */
  deleteSlot(slot: number): void {
    const off = this.#offsets[slot]!;
    if (off < 0) return;
    const n = this.#table.length;
    let i = this.#table[this.#lastCell] === slot ? this.#lastCell : this.#home(this.#hashAt(off));
    for (;;) {
      const s = this.#table[i]!;
      if (s === EMPTY) break;
      if (s === slot) {
        this.#table[i] = TOMBSTONE;
        break;
      }
      if (++i === n) i = 0;
    }
    this.#size--;
    this.#garbage += this.#arena[off]! + 1;
    this.#offsets[slot] = -1;
  }

  idOf(slot: number): string {
    const off = this.#offsets[slot]!;
    if (off < 0) throw new Error(`slot ${slot} holds no id`);
    const len = this.#arena[off]!;
    let s = '';
    for (let i = 1; i <= len; i++) s += String.fromCharCode(this.#arena[off + i]!);
    return s;
  }

  /** Bytes held in typed arrays (for memory accounting in tests and the bench). */
  get bytes(): number {
    return this.#arena.byteLength + this.#offsets.byteLength + this.#table.byteLength;
  }

  #equals(slot: number, id: string): boolean {
    const off = this.#offsets[slot]!;
    const a = this.#arena;
    if (a[off] !== id.length) return false;
    for (let i = id.length - 1; i >= 0; i--) if (a[off + 1 + i] !== id.charCodeAt(i)) return false;
    return true;
  }

  /** hashString of the id stored at arena offset `off` (ids are ASCII: bytes = char codes). */
  #hashAt(off: number): number {
    const a = this.#arena;
    const end = off + 1 + a[off]!;
    let h = FNV_OFFSET;
    for (let i = off + 1; i < end; i++) h = Math.imul(h ^ a[i]!, FNV_PRIME);
    return fmix32(h);
  }

  /** Home cell of an unsigned 32-bit hash (the table need not be a power of two). */
  #home(h: number): number {
    return Math.floor((h >>> 0) * this.#scale);
  }

  #insert(hash: number, slot: number): void {
    const n = this.#table.length;
    let i = this.#home(hash);
    while (this.#table[i]! >= 0) if (++i === n) i = 0;
    if (this.#table[i] === EMPTY) this.#used++;
    this.#table[i] = slot;
  }

  #writeId(slot: number, id: string): void {
    const need = id.length + 1;
    if (this.#arenaLen + need > this.#arena.length) {
      if (this.#garbage * 2 > this.#arenaLen) this.#compactArena();
      if (this.#arenaLen + need > this.#arena.length) {
        const next = new Uint8Array(Math.max(Math.ceil(this.#arena.length * 1.5), this.#arenaLen + need));
        next.set(this.#arena.subarray(0, this.#arenaLen));
        this.#arena = next;
      }
    }
    const off = this.#arenaLen;
    this.#arena[off] = id.length;
    for (let i = 0; i < id.length; i++) this.#arena[off + 1 + i] = id.charCodeAt(i);
    this.#arenaLen += need;
    this.#offsets[slot] = off;
  }

  #compactArena(): void {
    const next = new Uint8Array(Math.max(1 << 16, this.#arena.length));
    let len = 0;
    const offs = this.#offsets;
    for (let s = 0; s < offs.length; s++) {
      const off = offs[s]!;
      if (off < 0) continue;
      const n = this.#arena[off]! + 1;
      next.set(this.#arena.subarray(off, off + n), len);
      offs[s] = len;
      len += n;
    }
    this.#arena = next;
    this.#arenaLen = len;
    this.#garbage = 0;
  }

  #rehash(): void {
    // Rehashing also drops tombstones; the table grows only when live ids need it.
    const cap = Math.max(this.#table.length, cellsFor(2 * (this.#size + 1) * MAX_LOAD));
    this.#table = new Int32Array(cap).fill(EMPTY);
    this.#scale = cap / 2 ** 32;
    this.#used = 0;
    const offs = this.#offsets;
    for (let s = 0; s < offs.length; s++) {
      const off = offs[s]!;
      if (off >= 0) this.#insert(this.#hashAt(off), s);
    }
  }
}

/** FNV-1a over char codes, then mixed. */
export function hashId(s: string): number {
  return hashString(s);
}
