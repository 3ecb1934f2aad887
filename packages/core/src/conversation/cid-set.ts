/**
 * The cids of one conversation, held as 32-bit hashes in an open-addressing table (an Int32Array):
 * what LevelConversationStore needs to say "this cid is new" without a disk read. A miss is
 * certain (the cid was never added); a hit is a retry or, rarely, another cid with the same hash,
 * and the caller then asks the disk.
 *
 * Why not a Map<string, number>: each cid cost about 100 bytes of small objects on the V8 heap (the
 * string and the map entry), every one of them promoted to the old generation and traced by every
 * mark-compact; with the default bounds (up to 500,000 cids held) that was tens of MB of objects
 * to mark. Here a cid costs 8 bytes at most (4 per slot, the table at most half full), in one typed
 * array that the collector does not trace.
 */
export class CidSet {
  /** 0 marks an empty slot; hashes are never 0 (cidHash). */
  #slots: Int32Array;
  #size = 0;

  constructor(capacity = 8) {
    this.#slots = new Int32Array(capacity);
  }

  /** Distinct hashes held (a collision counts once). */
  get size(): number {
    return this.#size;
  }

  /** False: `cid` was never added. True: it was, or a cid with the same hash was. */
  has(cid: string): boolean {
    const h = cidHash(cid);
    const slots = this.#slots;
    const mask = slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = slots[i]!;
      if (v === h) return true;
      if (v === 0) return false;
    }
  }

  add(cid: string): void {
    if ((this.#size + 1) * 2 > this.#slots.length) this.#grow();
    if (this.#insert(this.#slots, cidHash(cid))) this.#size++;
  }

  /** Linear probing; false when the hash is already there. */
  #insert(slots: Int32Array, h: number): boolean {
    const mask = slots.length - 1;
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const v = slots[i]!;
      if (v === h) return false;
      if (v === 0) { slots[i] = h; return true; }
    }
  }

  #grow(): void {
    const old = this.#slots;
    const slots = new Int32Array(old.length * 2);
    for (const h of old) if (h !== 0) this.#insert(slots, h);
    this.#slots = slots;
  }
}

/** FNV-1a over the UTF-16 code units, never 0 (0 marks an empty slot). */
export function cidHash(cid: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < cid.length; i++) h = Math.imul(h ^ cid.charCodeAt(i), 0x01000193);
  return h === 0 ? 1 : h;
}
