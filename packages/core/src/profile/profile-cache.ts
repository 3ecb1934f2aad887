/**
 * A source's value cache: fresh for `ttlMs`, then servable as stale for `staleMs` more while a
 * refresh runs, then gone. Bounded by lru-cache's `max`; expiry is checked on read (no timers), so
 * the hit path is one Map lookup and two comparisons.
 */
import { LRUCache } from 'lru-cache';

export interface CacheEntry {
  value: unknown;
  at: number;
  freshUntil: number;
  staleUntil: number;
}

export type CacheLookup =
  | { kind: 'fresh'; entry: CacheEntry }
  | { kind: 'stale'; entry: CacheEntry }
  | { kind: 'miss' };

const miss: CacheLookup = { kind: 'miss' };

export class ProfileCache {
  private readonly lru: LRUCache<string, CacheEntry>;

  constructor(
    max: number,
    readonly ttlMs: number,
    readonly staleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lru = new LRUCache<string, CacheEntry>({ max });
  }

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  lookup(uid: string): CacheLookup {
    const e = this.lru.get(uid);
    if (e === undefined) return miss;
    const t = this.now();
    if (t < e.freshUntil) return { kind: 'fresh', entry: e };
    if (t < e.staleUntil) return { kind: 'stale', entry: e };
    this.lru.delete(uid);
    return miss;
  }

  set(uid: string, value: unknown): void {
    if (this.ttlMs <= 0) return;
    const at = this.now();
    this.lru.set(uid, { value, at, freshUntil: at + this.ttlMs, staleUntil: at + this.ttlMs + this.staleMs });
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
