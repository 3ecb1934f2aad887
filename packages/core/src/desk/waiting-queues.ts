/**
 * The waiting line of each tenant is a PriorityQueue (issue 3): persistence (memory, LevelDB,
 * Redis or a third party's QueueStore), aging, positions and crash-safety come from the queue.
 * One queue per tenant, so that a position counts only the tenant's own visitors; the item id is
 * the conversation id, the payload only says whose it is (for operations tooling).
 *
 * The desk never leases: an offered conversation keeps its place in the queue (an offer that is
 * declined or times out costs nothing), and an assigned or closed one is removed. Team and skills
 * filtering happen in the dispatch pass, which peeks at the head.
 *
 * Ownership: the DeskStore owns each conversation's state; the queue owns the order of the
 * waiting ones. They are written side by side, so a crash can leave one ahead of the other; a
 * queue is reconciled with the desk's state whenever it is opened (and after a failed queue
 * write): items whose conversation is not waiting are removed, waiting conversations missing
 * from the queue are pushed again (at the tail of their priority, or at the head for a requeue).
 */
import { KefuError } from '@kefu/protocol';
import { PriorityQueue } from '../queue/priority-queue.js';
import { MAX_PRIORITY, MIN_PRIORITY } from '../queue/options.js';
import type { QueueStore } from '../queue/queue-store.js';
import type { DeskConversation } from './types.js';

/** What a desk queue item carries: the item id is the conversation id. */
export interface DeskQueueItem {
  visitor: string;
}

/** A QueueStore for one tenant's waiting line. */
export type DeskQueueStoreFactory = (tenant: string) => QueueStore<DeskQueueItem>;

/** Queue priority of a requeue or a transfer to a team: ahead of everyone, VIPs included. */
export const HEAD_PRIORITY = MAX_PRIORITY;

/** The queue priority of a waiting conversation (integers; the head is reserved for requeues). */
export function queuePriority(conv: Pick<DeskConversation, 'priority' | 'queueReason'>): number {
  if (conv.queueReason !== 'new') return HEAD_PRIORITY;
  return Math.max(MIN_PRIORITY, Math.min(MAX_PRIORITY - 1, Math.round(conv.priority)));
}

export interface WaitingQueuesOptions {
  factory: DeskQueueStoreFactory;
  agingRate: number;
  maxWaiting: number;
  /** The desk's waiting (or offered) conversations of a tenant, from memory. */
  waitingOf(tenant: string): Iterable<DeskConversation>;
  /** The conversation, if the desk holds it in memory. */
  conv(id: string): DeskConversation | undefined;
  onError(err: unknown): void;
}

const isWaiting = (c: DeskConversation | undefined, tenant: string): c is DeskConversation =>
  c !== undefined && c.tenant === tenant && (c.state === 'waiting' || c.state === 'offered');

export class WaitingQueues {
  readonly #o: WaitingQueuesOptions;
  readonly #opening = new Map<string, Promise<PriorityQueue<DeskQueueItem>>>();
  readonly #open = new Map<string, PriorityQueue<DeskQueueItem>>();
  /** Queue writes of one conversation run one after the other (a remove must see its push). */
  readonly #chains = new Map<string, Promise<void>>();
  /** Tenants whose queue missed a write: reconciled again on the next repair(). */
  readonly #suspect = new Set<string>();
  /**
   * The head of each queue as last peeked (ids in serving order), so a dispatch pass after each
   * close does not read the same rows again. Only this class writes the desk's queues: a push
   * drops the cached head (it may land anywhere), a removal cuts the id out (the rest keeps its
   * order, aging never reorders waiting items). A peek that raced a write is not cached.
   */
  readonly #heads = new Map<string, { ids: string[]; complete: boolean }>();
  readonly #versions = new Map<string, number>();
  /** Queue writes in flight per tenant, and since when each open queue has been empty and idle. */
  readonly #active = new Map<string, number>();
  readonly #emptySince = new Map<string, number>();
  /** Pushes in flight per tenant: they count against maxWaiting before they land. */
  readonly #pending = new Map<string, number>();
  /** Closes of idle queues in flight (close() waits for them). */
  readonly #closing = new Set<Promise<void>>();
  #closed = false;

  constructor(options: WaitingQueuesOptions) {
    this.#o = options;
  }

  /** The tenant's queue, opened and reconciled once. */
  queue(tenant: string): Promise<PriorityQueue<DeskQueueItem>> {
    if (this.#closed) return Promise.reject(new KefuError('KEFU_ERR_CLOSED', 'the desk is closed'));
    let p = this.#opening.get(tenant);
    if (p === undefined) {
      p = this.#openQueue(tenant);
      this.#opening.set(tenant, p);
      p.catch(() => { if (this.#opening.get(tenant) === p) this.#opening.delete(tenant); });
    }
    return p;
  }

  /** Waiting items of the tenant (0 while its queue is not open yet). */
  size(tenant: string): number {
    return this.#open.get(tenant)?.size ?? 0;
  }

  /** size() plus the pushes in flight: what a new arrival is checked against. */
  reserved(tenant: string): number {
    return this.size(tenant) + (this.#pending.get(tenant) ?? 0);
  }

  /** Tenants whose queue is open. */
  tenants(): IterableIterator<string> {
    return this.#open.keys();
  }

  /** Pushes the conversation (idempotent: a conversation already queued keeps its place). */
  enqueue(conv: DeskConversation): Promise<void> {
    const priority = queuePriority(conv);
    const tenant = conv.tenant;
    this.#pending.set(tenant, (this.#pending.get(tenant) ?? 0) + 1);
    return this.#chain(conv, async () => {
      try {
        const q = await this.queue(tenant);
        await q.push({ visitor: conv.visitor.id }, { id: conv.id, priority });
        this.#changed(tenant);
      } finally {
        const n = (this.#pending.get(tenant) ?? 1) - 1;
        if (n > 0) this.#pending.set(tenant, n);
        else this.#pending.delete(tenant);
      }
    });
  }

  /** Removes the conversation from its tenant's queue (no-op when absent). */
  dequeue(conv: DeskConversation): Promise<void> {
    return this.#chain(conv, async () => {
      const q = this.#open.get(conv.tenant) ?? (this.#opening.has(conv.tenant) ? await this.queue(conv.tenant) : undefined);
      if (q && (await q.remove(conv.id))) this.#changed(conv.tenant, conv.id);
    });
  }

  /** Resolves when the queue writes in flight now have settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#chains.values()]);
  }

  /** 1-based place in the tenant's queue, or null. */
  async position(conv: DeskConversation): Promise<number | null> {
    const q = this.#open.get(conv.tenant);
    if (!q) return null;
    return (await q.position(conv.id)) ?? null;
  }

  /** Conversation ids at the head of the tenant's queue, in serving order. */
  async head(tenant: string, n: number): Promise<string[]> {
    const q = this.#open.get(tenant);
    if (!q || q.size === 0 || n < 1) return [];
    const cached = this.#heads.get(tenant);
    if (cached && (cached.complete || cached.ids.length >= n)) return cached.ids.slice(0, n);
    const version = this.#versions.get(tenant) ?? 0;
    const want = Math.min(n, q.size, q.options.maxLeaseBatch);
    const ids = (await q.peek(want)).map((i) => i.id);
    if ((this.#versions.get(tenant) ?? 0) === version) this.#heads.set(tenant, { ids, complete: ids.length >= q.size });
    return ids;
  }

  /** A write landed in the tenant's queue: a removal cuts `removed` out of the cached head, anything else drops it. */
  #changed(tenant: string, removed?: string): void {
    this.#versions.set(tenant, (this.#versions.get(tenant) ?? 0) + 1);
    const cached = this.#heads.get(tenant);
    if (!cached) return;
    if (removed === undefined) { this.#heads.delete(tenant); return; }
    const i = cached.ids.indexOf(removed);
    if (i >= 0) cached.ids.splice(i, 1);
  }

  /** Removes items of `ids` whose conversation is no longer waiting and has no queue write in flight. */
  dropStale(tenant: string, ids: readonly string[]): void {
    for (const id of ids) {
      const c = this.#o.conv(id);
      if (isWaiting(c, tenant) || this.#chains.has(id)) continue;
      const q = this.#open.get(tenant);
      q?.remove(id).then((gone) => { if (gone) this.#changed(tenant, id); }, (err: unknown) => this.#o.onError(err));
    }
  }

  /** Reconciles the queues that missed a write (called from the desk's sweep). */
  repair(): void {
    for (const tenant of [...this.#suspect]) {
      this.#suspect.delete(tenant);
      const q = this.#open.get(tenant);
      if (q) this.#reconcile(tenant, q).catch((err: unknown) => { this.#suspect.add(tenant); this.#o.onError(err); });
    }
  }

  /** Waits for pending queue writes, then closes every queue (and so its store). */
  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#chains.values()]);
    const queues = await Promise.allSettled([...this.#opening.values()]);
    await Promise.allSettled([...queues.map((r) => (r.status === 'fulfilled' ? r.value.close() : undefined)), ...this.#closing]);
  }

  /**
   * Closes the queues that have been empty, with no write in flight, for `idleMs`: each holds
   * fixed index buffers (about 170 KiB for the local stores), so a desk serving many tenants
   * keeps only the busy ones open. An empty queue loses nothing; the next hand-off reopens it.
   */
  closeIdle(now: number, idleMs: number): void {
    for (const [tenant, q] of [...this.#open]) {
      if (q.size > 0 || (this.#active.get(tenant) ?? 0) > 0 || (this.#pending.get(tenant) ?? 0) > 0) {
        this.#emptySince.delete(tenant);
        continue;
      }
      const since = this.#emptySince.get(tenant);
      if (since === undefined) { this.#emptySince.set(tenant, now); continue; }
      if (now - since < idleMs) continue;
      this.#open.delete(tenant);
      this.#opening.delete(tenant);
      this.#emptySince.delete(tenant);
      this.#heads.delete(tenant);
      this.#versions.delete(tenant);
      this.#suspect.delete(tenant);
      const closing: Promise<void> = q.close()
        .catch((err: unknown) => this.#o.onError(err))
        .finally(() => { this.#closing.delete(closing); });
      this.#closing.add(closing);
    }
  }

  #chain(conv: DeskConversation, work: () => Promise<void>): Promise<void> {
    const tenant = conv.tenant;
    this.#active.set(tenant, (this.#active.get(tenant) ?? 0) + 1);
    this.#emptySince.delete(tenant);
    const prev = this.#chains.get(conv.id) ?? Promise.resolve();
    const next = prev.then(work).catch((err: unknown) => {
      this.#suspect.add(conv.tenant);
      throw err;
    });
    const tail = next.catch(() => {}).finally(() => {
      if (this.#chains.get(conv.id) === tail) this.#chains.delete(conv.id);
      const n = (this.#active.get(tenant) ?? 1) - 1;
      if (n > 0) this.#active.set(tenant, n);
      else this.#active.delete(tenant);
    });
    this.#chains.set(conv.id, tail);
    return next;
  }

  async #openQueue(tenant: string): Promise<PriorityQueue<DeskQueueItem>> {
    const q = new PriorityQueue<DeskQueueItem>({
      store: () => this.#o.factory(tenant),
      agingRate: this.#o.agingRate,
      // peek() reads the whole line for positions and reconciliation.
      maxLeaseBatch: Math.max(1000, this.#o.maxWaiting * 2),
    });
    q.on('error', (err) => this.#o.onError(err));
    try {
      await q.open();
      await this.#reconcile(tenant, q);
    } catch (err) {
      await q.close().catch(() => {});
      throw err;
    }
    if (this.#closed) { await q.close(); throw new KefuError('KEFU_ERR_CLOSED', 'the desk is closed'); }
    this.#open.set(tenant, q);
    return q;
  }

  /** The desk's state wins: stale items go, missing waiting conversations come back. */
  async #reconcile(tenant: string, q: PriorityQueue<DeskQueueItem>): Promise<void> {
    this.#changed(tenant);
    const queued = new Set<string>();
    if (q.size > 0) {
      for (const item of await q.peek(Math.min(q.size, q.options.maxLeaseBatch))) {
        if (isWaiting(this.#o.conv(item.id), tenant) || this.#chains.has(item.id)) queued.add(item.id);
        else await q.remove(item.id);
      }
    }
    const missing = [...this.#o.waitingOf(tenant)].filter((c) => !queued.has(c.id) && !this.#chains.has(c.id));
    missing.sort((a, b) => (a.queuedAt ?? 0) - (b.queuedAt ?? 0));
    if (missing.length > 0) {
      await q.pushMany(missing.map((c) => ({ payload: { visitor: c.visitor.id }, id: c.id, priority: queuePriority(c) })));
    }
    this.#changed(tenant);
  }
}
