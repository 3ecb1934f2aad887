/**
 * The in-process index both local stores (memory, LevelDB) keep: per item a slot in typed
 * arrays (order key, sequence, state, attempts), the id table, the ready order and the due heap
 * (leased and delayed items only). About 43 bytes per waiting item with the compact id table, no JS
 * object per item (ANCHORS.md: objects cost 87-136 B).
 */
import { DueHeap } from './due-heap.js';
import { IdTable, type IdIndex } from './id-table.js';
import { OrderIndex } from './order-index.js';
import { KefuError } from '@kefu/protocol';
import type { ItemState, QueueCounts } from './types.js';

export const FREE = 0;
export const READY = 1;
export const DELAYED = 2;
export const LEASED = 3;
export const DEAD = 4;
/** Reserved while a write for the slot is in flight; no other operation may touch it. */
export const BUSY = 5;

/** flags bit: the last lease of this item ended by expiry (ack then says LEASE_EXPIRED). */
export const F_EXPIRED = 1;
/** flags bit: the store holds a state marker for this item (LevelDB `m!` key). */
export const F_MARKER = 2;

const STATE_NAMES: Array<ItemState | undefined> = [undefined, 'ready', 'delayed', 'leased', 'dead', undefined];

interface Keys {
  key: Float64Array;
  /** Sequence minus `seqBase`: 4 bytes per item instead of a float64's 8. */
  seq: Uint32Array;
}

/** Largest sequence offset from the base a slot can hold. */
const MAX_REL_SEQ = 0xffff_ffff;

export class LocalIndex {
  readonly keys: Keys;
  state: Uint8Array;
  attempts: Uint16Array;
  maxAttempts: Uint16Array;
  flags: Uint8Array;
  readonly ids: IdIndex;
  readonly ready: OrderIndex;
  readonly dueHeap: DueHeap;
  readonly counts: QueueCounts = { ready: 0, delayed: 0, leased: 0, dead: 0 };
  #capacity: number;
  #free: number[] = [];
  #next = 0;
  #live = 0;
  /**
   * Sequences are kept as offsets from this base. Only the spread of the live items' sequences
   * must fit in 32 bits (4 billion pushes while one item waits); when a new sequence falls
   * outside, the base moves (#rebase, a pass over the slots, once per two billion pushes at most).
   */
  #seqBase = 0;

  /**
   * `ids`: the id -> slot map (default: the compact IdTable sized for `initialCapacity`);
   * `denseDue`: due-heap positions per slot instead of in a Map (faster, 4 bytes per slot).
   */
  constructor(initialCapacity = 1024, ids?: IdIndex, denseDue = false) {
    const n = Math.max(16, initialCapacity);
    this.#capacity = n;
    this.keys = { key: new Float64Array(n), seq: new Uint32Array(n) };
    this.state = new Uint8Array(n);
    this.attempts = new Uint16Array(n);
    this.maxAttempts = new Uint16Array(n);
    this.flags = new Uint8Array(n);
    this.ids = ids ?? new IdTable(n);
    this.ready = new OrderIndex(this.keys);
    this.dueHeap = new DueHeap(denseDue);
  }

  /** Items held in any state (including slots reserved by in-flight writes). */
  get live(): number {
    return this.#live;
  }

  get capacity(): number {
    return this.#capacity;
  }

  /** Bytes held in typed arrays (approximate, for tests and the bench). */
  get bytes(): number {
    return this.#capacity * (8 + 4 + 1 + 2 + 2 + 1) + this.ids.bytes + this.ready.bytes;
  }

  /** Slot of `id`, or -1. Pass `hash` (hashId(id)) when the caller will alloc the same id next. */
  lookup(id: string, hash?: number): number {
    return this.ids.get(id, hash);
  }

  stateName(slot: number): ItemState | undefined {
    return STATE_NAMES[this.state[slot]!];
  }

  /** Reserves a slot for `id` (state BUSY, not ordered yet). */
  alloc(id: string, key: number, seq: number, maxAttempts: number, attempts = 0, hash?: number): number {
    let rel = seq - this.#seqBase;
    if (rel < 0 || rel > MAX_REL_SEQ) rel = seq - this.#rebase(seq);
    let slot = this.#free.pop();
    if (slot === undefined) {
      if (this.#next === this.#capacity) this.#grow();
      slot = this.#next++;
    }
    this.keys.key[slot] = key;
    this.keys.seq[slot] = rel;
    this.state[slot] = BUSY;
    this.attempts[slot] = attempts;
    this.maxAttempts[slot] = maxAttempts;
    this.flags[slot] = 0;
    this.ids.set(id, slot, hash);
    this.#live++;
    return slot;
  }

  /** The sequence of an allocated slot. */
  seqOf(slot: number): number {
    return this.#seqBase + this.keys.seq[slot]!;
  }

  /** Forgets the slot entirely (ack, remove, failed push). */
  release(slot: number): void {
    this.detach(slot);
    this.ids.deleteSlot(slot);
    this.state[slot] = FREE;
    this.#free.push(slot);
    this.#live--;
  }

  /** Takes the slot out of whatever structure holds it; it becomes BUSY. */
  detach(slot: number): void {
    switch (this.state[slot]) {
      case READY:
        this.ready.remove(slot);
        this.counts.ready--;
        break;
      case DELAYED:
        this.dueHeap.remove(slot);
        this.counts.delayed--;
        break;
      case LEASED:
        this.dueHeap.remove(slot);
        this.counts.leased--;
        break;
      case DEAD:
        this.counts.dead--;
        break;
    }
    this.state[slot] = BUSY;
  }

  toReady(slot: number): void {
    this.detach(slot);
    this.state[slot] = READY;
    this.ready.insert(slot);
    this.counts.ready++;
  }

  toDelayed(slot: number, due: number): void {
    this.detach(slot);
    this.state[slot] = DELAYED;
    this.dueHeap.push(slot, due);
    this.counts.delayed++;
  }

  toLeased(slot: number, due: number): void {
    this.detach(slot);
    this.state[slot] = LEASED;
    this.dueHeap.push(slot, due);
    this.counts.leased++;
  }

  toDead(slot: number): void {
    this.detach(slot);
    this.state[slot] = DEAD;
    this.counts.dead++;
  }

  /**
   * Makes every listed BUSY slot ready at once (recovery); the ready order must be empty. Pass
   * `sorted` when the slots already are in serving order (a comparator sort of a million slots
   * briefly costs about 15 MB).
   */
  loadReady(slots: Int32Array, sorted = false): void {
    for (let i = 0; i < slots.length; i++) this.state[slots[i]!] = READY;
    this.ready.load(sorted ? slots : this.ready.sort(slots));
    this.counts.ready += slots.length;
  }

  /** Pops the first ready slot into BUSY, or -1. */
  shiftReady(): number {
    const slot = this.ready.shift();
    if (slot < 0) return -1;
    this.counts.ready--;
    this.state[slot] = BUSY;
    return slot;
  }

  /** Lease expiry or end of delay of a leased or delayed slot, else 0. */
  dueOf(slot: number): number {
    return this.dueHeap.dueOf(slot);
  }

  /** Earliest due time among leased and delayed items, or undefined. */
  nextDueAt(): number | undefined {
    const d = this.dueHeap.peekDue();
    return d === Infinity ? undefined : d;
  }

  /** Slots in the dead state, up to `limit`, in slot order. */
  deadSlots(limit: number): number[] {
    const out: number[] = [];
    for (let s = 0; s < this.#next && out.length < limit; s++) if (this.state[s] === DEAD) out.push(s);
    return out;
  }

  /**
   * Moves the sequence base so that `seq` and every live slot's sequence fit, leaving equal room
   * below and above; returns the new base.
   */
  #rebase(seq: number): number {
    let lo = seq;
    let hi = seq;
    const rel = this.keys.seq;
    for (let s = 0; s < this.#next; s++) {
      if (this.state[s] === FREE) continue;
      const v = this.#seqBase + rel[s]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
    if (hi - lo > MAX_REL_SEQ) throw new KefuError('KEFU_ERR_STORE', `sequences ${lo} to ${hi} of waiting items span more than 2^32`);
    const base = Math.max(0, lo - Math.floor((MAX_REL_SEQ - (hi - lo)) / 2));
    const delta = this.#seqBase - base;
    for (let s = 0; s < this.#next; s++) if (this.state[s] !== FREE) rel[s] = rel[s]! + delta;
    this.#seqBase = base;
    return base;
  }

  #grow(): void {
    const n = Math.ceil(this.#capacity * 1.5);
    const k = this.keys;
    k.key = growF64(k.key, n);
    k.seq = grow(k.seq, new Uint32Array(n));
    this.state = grow(this.state, new Uint8Array(n));
    this.attempts = grow(this.attempts, new Uint16Array(n));
    this.maxAttempts = grow(this.maxAttempts, new Uint16Array(n));
    this.flags = grow(this.flags, new Uint8Array(n));
    this.ids.growSlots(n);
    this.#capacity = n;
  }
}

function growF64(a: Float64Array, n: number): Float64Array {
  const b = new Float64Array(n);
  b.set(a);
  return b;
}

function grow<A extends Uint8Array | Uint16Array | Uint32Array>(a: A, b: A): A {
  b.set(a);
  return b;
}
