/**
 * Who served a visitor last (visitor -> agent), for the sticky strategy: one LRU per tenant,
 * bounded by `maxStickyPerTenant`, persisted in the DeskStore so a restart keeps it. Each change
 * returns the store ops to write with the conversation that caused it (one atomic write): the
 * new pair, and the deletion of the pair it evicted.
 */
import type { DeskStoreOp, StoredLastAgent } from './store/desk-store.js';

export class StickyMemory {
  readonly #cap: number;
  /** Map insertion order is the recency order: the first key is the least recently used. */
  readonly #tenants = new Map<string, Map<string, { agent: string; at: number }>>();

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
    let m = this.#tenants.get(tenant);
    if (!m) this.#tenants.set(tenant, (m = new Map()));
    m.delete(visitor);
    m.set(visitor, { agent, at });
    const evicted: string[] = [];
    while (m.size > this.#cap) {
      const oldest = m.keys().next().value as string;
      m.delete(oldest);
      evicted.push(oldest);
    }
    return evicted;
  }
}
