/** Shared record shapes between PriorityQueue and its stores. */

/** Where an item is in its life. `ready` items are ordered; the others wait for a due time or a requeue. */
export type ItemState = 'ready' | 'delayed' | 'leased' | 'dead';

/** What the queue asks a store to keep (the store assigns `seq`). */
export interface PushRecord<T> {
  /** Caller's id or a generated one; the idempotency key while the item is in the store. */
  id: string;
  payload: T;
  priority: number;
  /** Lower is served first: `enqueuedAt * agingRate / 1000 - priority`, fixed at push time. */
  orderKey: number;
  /** Epoch ms. */
  enqueuedAt: number;
  /** Epoch ms; greater than now for a delayed push. */
  availableAt: number;
  maxAttempts: number;
}

/** The result of one push: `created` false means the id was already in the store. */
export interface PushOutcome {
  id: string;
  created: boolean;
  state: ItemState;
}

/** An item as stored. */
export interface StoredItem<T> {
  id: string;
  payload: T;
  priority: number;
  enqueuedAt: number;
  state: ItemState;
  /** Leases taken so far (each lease counts one attempt). */
  attempts: number;
  maxAttempts: number;
  /** For `leased`: when the lease expires; for `delayed`: when it becomes ready; else 0. */
  dueAt: number;
}

/** One leased item. `attempt` (1-based) identifies this lease: ack/nack with it are checked. */
export interface LeaseGrant<T> {
  id: string;
  payload: T;
  priority: number;
  enqueuedAt: number;
  attempt: number;
  maxAttempts: number;
  /** Epoch ms at which the lease expires and the item returns to the queue. */
  expiresAt: number;
}

/** What a due-time sweep did. */
export interface TickOutcome {
  /** Leases that expired: back to ready, or to dead-letter when `dead`. */
  expired: Array<{ id: string; attempt: number; dead: boolean }>;
  /** Delayed items that became ready. */
  promoted: number;
}

export interface QueueCounts {
  ready: number;
  delayed: number;
  leased: number;
  dead: number;
}

/** How a nack settles the item. */
export interface NackDisposition {
  /** Epoch ms when it is ready again (<= now: ready at once). Ignored when `dead`. */
  availableAt: number;
  /** Move to dead-letter instead. */
  dead: boolean;
}

/**
 * Optional capabilities, abstract-level style. The conformance suite reads them to skip what a
 * store does not claim.
 */
export interface QueueStoreSupports {
  /** Items survive close() and a process crash (after their push resolved). */
  durable: boolean;
  /** Several processes may share the store; lease is atomic across them. */
  shared: boolean;
  /** position() is exact and cheaper than a full scan. */
  position: boolean;
  /** counts() and nextDueAt() are exact (a shared store may report its last known figures). */
  exactCounts: boolean;
}
