/**
 * A source's value cache: fresh for `ttlMs`, then servable as stale for `staleMs` more while a
 * refresh runs, then gone. Bounded by lru-cache's `max`; expiry is checked on read (no timers), so
 * the hit path is one Map lookup and two comparisons.
 *
 * An entry is the value and its birth time only, the time in ms since this cache was made: a
 * small integer (a V8 Smi, stored in the object) for 12 days, where an absolute Date.now() or the
 * precomputed deadlines are doubles, each a separate heap number. On cold profiles every answer
 * is stored and most are evicted unread, so each allocation saved per entry is GC work saved.
 */
import { LRUCache } from 'lru-cache';

export interface CacheEntry {
  value: unknown;
  /** Birth time, ms since the cache was made (see ageMs()). */
  at: number;
}

export type CacheLookup =
  | { kind: 'fresh'; entry: CacheEntry }
  | { kind: 'stale'; entry: CacheEntry }
  | { kind: 'miss' };

const miss: CacheLookup = { kind: 'miss' };

export class ProfileCache {
  private readonly lru: LRUCache<string, CacheEntry>;
  private readonly base: number;

  constructor(
    max: number,
    readonly ttlMs: number,
    readonly staleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = new LRUCache<string, CacheEntry>({ max });
    this.base = now();
  }

  /** How old `entry` is, in ms. */
  ageMs(entry: CacheEntry): number {
    return this.now() - this.base - entry.at;
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  lookup(uid: string): CacheLookup {
    const e = this.lru.get(uid);
    if (e === undefined) return miss;
    const age = this.now() - this.base - e.at;
    if (age < this.ttlMs) return { kind: 'fresh', entry: e };
    if (age < this.ttlMs + this.staleMs) return { kind: 'stale', entry: e };
    this.lru.delete(uid);
    return miss;
  }

  set(uid: string, value: unknown): void {
    if (this.ttlMs <= 0) return;
    const at = this.now() - this.base;
    // `| 0` makes it a Smi (the subtraction of two doubles is a double, which V8 boxes); past
    // 2^30 ms (12 days) it stays a plain number, never a wrapped-around int32.
    this.lru.set(uid, { value, at: at < 0x40000000 ? at | 0 : at });
  }

  delete(uid: string): void {
    this.lru.delete(uid);
  }

  clear(): void {
    this.lru.clear();
  }

  get size(): number {
    return this.lru.size;
  }
}
