/**
 * The abstract persistence layer of PriorityQueue, abstract-level style: public methods check
 * state and arguments, then call the protected `_hooks` a store implements. Every hook is one
 * atomic store operation, so a shared store (Redis, SQL) implements each as one script or
 * transaction and several processes can consume the same queue: in particular `_lease` picks
 * AND marks the items in one step, it is never a read followed by a write.
 *
 * Time is passed in (`now`, epoch ms) rather than read by the store, so the queue decides the
 * clock, tests can drive it, and a shared store sees its callers' clocks consistently.
 */
import { KefuError } from '@kefu/protocol';
import type {
  LeaseGrant, NackDisposition, PushOutcome, PushRecord, QueueCounts, QueueStoreSupports, StoredItem, TickOutcome,
} from './types.js';

export type QueueStoreStatus = 'new' | 'opening' | 'open' | 'closing' | 'closed';

export abstract class QueueStore<T = unknown> {
  /** The optional capabilities this store offers. */
  abstract readonly supports: QueueStoreSupports;
  #status: QueueStoreStatus = 'new';
  #opening: Promise<void> | undefined;
  #closing: Promise<void> | undefined;

  get status(): QueueStoreStatus {
    return this.#status;
  }

  /** Opens the store and recovers its state (idempotent). */
  open(): Promise<void> {
    if (this.#status === 'closing' || this.#status === 'closed') return Promise.reject(closed());
    if (this.#opening === undefined) {
      this.#status = 'opening';
      this.#opening = this._open().then(
        () => { if (this.#status === 'opening') this.#status = 'open'; },
        (err: unknown) => { this.#status = 'new'; this.#opening = undefined; throw err; },
      );
    }
    return this.#opening;
  }

  /** Closes the store (idempotent); later calls reject with KEFU_ERR_CLOSED. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const was = this.#status;
      this.#status = 'closing';
      this.#closing = (was === 'new' ? Promise.resolve() : (this.#opening ?? Promise.resolve()).catch(() => undefined).then(() => this._close()))
        .finally(() => { this.#status = 'closed'; });
    }
    return this.#closing;
  }

  /**
   * Adds items atomically per record; a record whose id is already stored (any state) is not
   * changed and its outcome says `created: false`.
   */
  push(records: ReadonlyArray<PushRecord<T>>): Promise<PushOutcome[]> {
    const bad = this.#check();
    if (bad) return bad;
    if (!Array.isArray(records)) return invalid('records must be an array');
    for (const r of records) {
      if (typeof r !== 'object' || r === null || typeof r.id !== 'string' || r.id.length === 0) return invalid('every record needs a non-empty string id');
      if (!Number.isFinite(r.orderKey) || !Number.isFinite(r.enqueuedAt) || !Number.isFinite(r.availableAt)) return invalid('orderKey, enqueuedAt and availableAt must be finite numbers');
      if (!Number.isInteger(r.maxAttempts) || r.maxAttempts < 1) return invalid('maxAttempts must be a positive integer');
    }
    if (records.length === 0) return Promise.resolve([]);
    return this._push(records);
  }

  /** Leases up to `max` ready items in order, atomically; each lease counts one attempt. */
  lease(max: number, now: number, visibilityMs: number): Promise<Array<LeaseGrant<T>>> {
    const bad = this.#check();
    if (bad) return bad;
    if (!Number.isInteger(max) || max < 0) return invalid('max must be a non-negative integer');
    if (!Number.isFinite(now) || !Number.isFinite(visibilityMs) || visibilityMs <= 0) return invalid('now must be finite and visibilityMs positive');
    if (max === 0) return Promise.resolve([]);
    return this._lease(max, now, visibilityMs);
  }

  /**
   * Settles a lease by deleting the item. `attempt` (from the grant) guards against acking a
   * newer lease of the same item; undefined acks whatever lease is current. Rejects with
   * KEFU_ERR_QUEUE_LEASE_EXPIRED or KEFU_ERR_QUEUE_UNKNOWN_LEASE.
   */
  ack(id: string, attempt: number | undefined, now: number): Promise<void> {
    const bad = this.#check() ?? checkId(id) ?? checkAttempt(attempt);
    if (bad) return bad;
    return this._ack(id, attempt, now);
  }

  /** Ends a lease without success: the item becomes delayed, ready or dead as `disposition` says. */
  nack(id: string, attempt: number | undefined, now: number, disposition: NackDisposition): Promise<void> {
    const bad = this.#check() ?? checkId(id) ?? checkAttempt(attempt);
    if (bad) return bad;
    if (!Number.isFinite(disposition?.availableAt)) return invalid('availableAt must be a finite number');
    return this._nack(id, attempt, now, disposition);
  }

  /** Expires leases and promotes delayed items whose due time is <= now. */
  tick(now: number): Promise<TickOutcome> {
    const bad = this.#check();
    if (bad) return bad;
    return this._tick(now);
  }

  /** Deletes an item in any state; false when the id is unknown. */
  remove(id: string): Promise<boolean> {
    const bad = this.#check() ?? checkId(id);
    if (bad) return bad;
    return this._remove(id);
  }

  get(id: string): Promise<StoredItem<T> | undefined> {
    const bad = this.#check() ?? checkId(id);
    if (bad) return bad;
    return this._get(id);
  }

  /** 1-based place among ready items, or undefined when the item is not ready. */
  position(id: string): Promise<number | undefined> {
    const bad = this.#check() ?? checkId(id);
    if (bad) return bad;
    return this._position(id);
  }

  /** The first `n` ready items, in order, without leasing them. */
  peek(n: number): Promise<Array<StoredItem<T>>> {
    const bad = this.#check();
    if (bad) return bad;
    if (!Number.isInteger(n) || n < 0) return invalid('n must be a non-negative integer');
    return this._peek(n);
  }

  /** Up to `limit` dead-letter items. */
  listDead(limit: number): Promise<Array<StoredItem<T>>> {
    const bad = this.#check();
    if (bad) return bad;
    if (!Number.isInteger(limit) || limit < 0) return invalid('limit must be a non-negative integer');
    return this._listDead(limit);
  }

  /** Moves a dead item back to ready with its attempts reset; false when it is not dead. */
  requeueDead(id: string, now: number): Promise<boolean> {
    const bad = this.#check() ?? checkId(id);
    if (bad) return bad;
    return this._requeueDead(id, now);
  }

  /** Item counts by state (exact for local stores; see `supports.exactCounts`). */
  counts(): QueueCounts {
    return this._counts();
  }

  /** When the next lease expires or delayed item becomes ready; undefined when none. */
  nextDueAt(): number | undefined {
    return this.#status === 'open' ? this._nextDueAt() : undefined;
  }

  #check(): Promise<never> | undefined {
    if (this.#status === 'open') return undefined;
    if (this.#status === 'closing' || this.#status === 'closed') return Promise.reject(closed());
    return Promise.reject(new KefuError('KEFU_ERR_NOT_OPEN', 'queue store is not open (call and await open())'));
  }

  protected abstract _open(): Promise<void>;
  protected abstract _close(): Promise<void>;
  protected abstract _push(records: ReadonlyArray<PushRecord<T>>): Promise<PushOutcome[]>;
  protected abstract _lease(max: number, now: number, visibilityMs: number): Promise<Array<LeaseGrant<T>>>;
  protected abstract _ack(id: string, attempt: number | undefined, now: number): Promise<void>;
  protected abstract _nack(id: string, attempt: number | undefined, now: number, disposition: NackDisposition): Promise<void>;
  protected abstract _tick(now: number): Promise<TickOutcome>;
  protected abstract _remove(id: string): Promise<boolean>;
  protected abstract _get(id: string): Promise<StoredItem<T> | undefined>;
  protected abstract _position(id: string): Promise<number | undefined>;
  protected abstract _peek(n: number): Promise<Array<StoredItem<T>>>;
  protected abstract _listDead(limit: number): Promise<Array<StoredItem<T>>>;
  protected abstract _requeueDead(id: string, now: number): Promise<boolean>;
  protected abstract _counts(): QueueCounts;
  protected abstract _nextDueAt(): number | undefined;
}

function closed(): KefuError {
  return new KefuError('KEFU_ERR_CLOSED', 'queue store is closed');
}

function invalid(message: string): Promise<never> {
  return Promise.reject(new KefuError('KEFU_ERR_INVALID_ARGUMENT', message));
}

function checkId(id: unknown): Promise<never> | undefined {
  return typeof id === 'string' && id.length > 0 ? undefined : invalid('id must be a non-empty string');
}

function checkAttempt(attempt: unknown): Promise<never> | undefined {
  return attempt === undefined || (Number.isInteger(attempt) && (attempt as number) >= 1) ? undefined : invalid('attempt must be a positive integer');
}
