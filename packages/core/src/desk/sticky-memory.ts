/**
 * Who served a visitor last (visitor -> agent), for the sticky strategy: one LRU per tenant,
 * bounded by `maxStickyPerTenant`, persisted in the DeskStore so a restart keeps it. Each change
 * returns the store ops to write with the conversation that caused it (one atomic write): the
 * new pair, and the deletion of the pair it evicted.
 */
import { LRUCache } from 'lru-cache';
import type { DeskStoreOp, StoredLastAgent } from './store/desk-store.js';

interface Entry {
  agent: string;
  at: number;
}

export class StickyMemory {
  readonly #cap: number;
  readonly #tenants = new Map<string, LRUCache<string, Entry>>();
  /** Visitors the last set() pushed out of their tenant's LRU (filled by dispose). */
  #evicted: string[] = [];

  constructor(cap: number) {
    this.#cap = cap;
  }

  get(tenant: string, visitor: string): string | undefined {
    return this.#tenants.get(tenant)?.get(visitor)?.agent;
  }

  /** Remembers the pair; returns the store ops that persist it. */
  set(tenant: string, visitor: string, agent: string, at = Date.now()): DeskStoreOp[] {
    const ops: DeskStoreOp[] = [{ type: 'last-agent', tenant, visitor, agent, at }];
    for (const evicted of this.#put(tenant, visitor, agent, at)) ops.push({ type: 'delete-last-agent', tenant, visitor: evicted });
    return ops;
  }

  /** Loads stored pairs (oldest first wins eviction); returns deletions for pairs beyond the cap. */
  load(rows: StoredLastAgent[]): DeskStoreOp[] {
    const ops: DeskStoreOp[] = [];
    for (const r of [...rows].sort((a, b) => a.at - b.at)) {
      for (const evicted of this.#put(r.tenant, r.visitor, r.agent, r.at)) ops.push({ type: 'delete-last-agent', tenant: r.tenant, visitor: evicted });
    }
    return ops;
  }

  /** Pairs held for a tenant. */
  size(tenant: string): number {
    return this.#tenants.get(tenant)?.size ?? 0;
  }

  #put(tenant: string, visitor: string, agent: string, at: number): string[] {
    let lru = this.#tenants.get(tenant);
    if (!lru) {
      lru = new LRUCache<string, Entry>({
        max: this.#cap,
        dispose: (_v, key, reason) => { if (reason === 'evict') this.#evicted.push(key); },
      });
      this.#tenants.set(tenant, lru);
    }
    lru.set(visitor, { agent, at });
    const evicted = this.#evicted;
    if (evicted.length === 0) return evicted;
    this.#evicted = [];
    return evicted;
  }
}
