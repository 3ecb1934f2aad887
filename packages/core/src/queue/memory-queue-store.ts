/**
 * The zero-config store: everything in process memory, nothing survives close(). Ordering and
 * state live in the same compact LocalIndex the LevelDB store uses; payloads in an array.
 */
import { KefuError } from '@kefu/protocol';
import { LocalIndex } from './local-index.js';
import { checkLease, deadSlot, leaseNext, readyPosition, revive, sweep } from './local-ops.js';
import { IdMap } from './id-map.js';
import { QueueStore } from './queue-store.js';
import type {
  LeaseGrant, NackDisposition, PushOutcome, PushRecord, QueueCounts, QueueStoreSupports, StoredItem, TickOutcome,
} from './types.js';

export interface MemoryQueueStoreOptions {
  /**
   * Slots to allocate up front (the index grows by half when full).
   * @defaultValue 1024
   */
  initialCapacity?: number;
}

const DONE: Promise<void> = Promise.resolve();

interface Entry<T> {
  id: string;
  payload: T;
  priority: number;
  enqueuedAt: number;
}

export class MemoryQueueStore<T = unknown> extends QueueStore<T> {
  readonly supports: QueueStoreSupports = { durable: false, shared: false, position: true, exactCounts: true };
  #index: LocalIndex;
  #entries: Array<Entry<T> | undefined> = [];
  #seq = 0;

  constructor(options: MemoryQueueStoreOptions = {}) {
    super();
    const opts = { initialCapacity: 1024, ...options };
    if (!Number.isInteger(opts.initialCapacity) || opts.initialCapacity < 1) throw new RangeError('initialCapacity must be a positive integer');
    this.#index = new LocalIndex(opts.initialCapacity, new IdMap(), true);
  }

  protected async _open(): Promise<void> {}

  protected async _close(): Promise<void> {
    this.#entries = [];
  }

  protected async _push(records: ReadonlyArray<PushRecord<T>>): Promise<PushOutcome[]> {
    const out: PushOutcome[] = [];
    const ix = this.#index;
    for (const r of records) {
      const found = ix.lookup(r.id);
      if (found >= 0) {
        out.push({ id: r.id, created: false, state: ix.stateName(found) ?? 'leased' });
        continue;
      }
      const slot = ix.alloc(r.id, r.orderKey, this.#seq++, r.maxAttempts);
      this.#entries[slot] = { id: r.id, payload: r.payload, priority: r.priority, enqueuedAt: r.enqueuedAt };
      if (r.availableAt > r.enqueuedAt) ix.toDelayed(slot, r.availableAt);
      else ix.toReady(slot);
      out.push({ id: r.id, created: true, state: ix.stateName(slot)! });
    }
    return out;
  }

  protected async _lease(max: number, now: number, visibilityMs: number): Promise<Array<LeaseGrant<T>>> {
    const ix = this.#index;
    const out: Array<LeaseGrant<T>> = [];
    const expiresAt = now + visibilityMs;
    while (out.length < max) {
      const slot = leaseNext(ix, expiresAt);
      if (slot < 0) break;
      const e = this.#entries[slot]!;
      out.push({ id: e.id, payload: e.payload, priority: e.priority, enqueuedAt: e.enqueuedAt, attempt: ix.attempts[slot]!, maxAttempts: ix.maxAttempts[slot]!, expiresAt });
    }
    return out;
  }

  /** Not async: one shared settled promise instead of an async function's own per ack. */
  protected _ack(id: string, attempt: number | undefined, now: number): Promise<void> {
    try {
      this.#drop(checkLease(this.#index, id, attempt, now));
      return DONE;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  protected async _nack(id: string, attempt: number | undefined, now: number, d: NackDisposition): Promise<void> {
    const ix = this.#index;
    const slot = checkLease(ix, id, attempt, now);
    if (d.dead) ix.toDead(slot);
    else if (d.availableAt > now) ix.toDelayed(slot, d.availableAt);
    else ix.toReady(slot);
  }

  protected async _tick(now: number): Promise<TickOutcome> {
    return sweep(this.#index, now);
  }

  protected async _remove(id: string): Promise<boolean> {
    const slot = this.#index.lookup(id);
    if (slot < 0) return false;
    this.#drop(slot);
    return true;
  }

  protected async _get(id: string): Promise<StoredItem<T> | undefined> {
    const slot = this.#index.lookup(id);
    return slot < 0 ? undefined : this.#item(slot);
  }

  protected async _position(id: string): Promise<number | undefined> {
    return readyPosition(this.#index, id);
  }

  protected async _peek(n: number): Promise<Array<StoredItem<T>>> {
    return this.#index.ready.head(n).map((s) => this.#item(s));
  }

  protected async _listDead(limit: number): Promise<Array<StoredItem<T>>> {
    return this.#index.deadSlots(limit).map((s) => this.#item(s));
  }

  protected async _requeueDead(id: string, _now: number): Promise<boolean> {
    const slot = deadSlot(this.#index, id);
    if (slot < 0) return false;
    revive(this.#index, slot);
    return true;
  }

  protected _counts(): QueueCounts {
    return { ...this.#index.counts };
  }

  protected _nextDueAt(): number | undefined {
    return this.#index.nextDueAt();
  }

  #drop(slot: number): void {
    this.#entries[slot] = undefined;
    this.#index.release(slot);
  }

  #item(slot: number): StoredItem<T> {
    const ix = this.#index;
    const e = this.#entries[slot];
    if (e === undefined) throw new KefuError('KEFU_ERR_INTERNAL', `slot ${slot} has no entry`);
    return {
      id: e.id, payload: e.payload, priority: e.priority, enqueuedAt: e.enqueuedAt,
      state: ix.stateName(slot) ?? 'leased', attempts: ix.attempts[slot]!, maxAttempts: ix.maxAttempts[slot]!, dueAt: ix.dueOf(slot),
    };
  }
}
