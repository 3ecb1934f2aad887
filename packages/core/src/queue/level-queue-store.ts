/**
 * The durable store: payloads on disk in LevelDB (`level`), only ids and ordering in memory
 * (LocalIndex, about 43 B per item). Every operation is one atomic batch through the shared
 * GroupCommitWriter, so concurrent pushes share one synced write and a push resolves only once
 * its batch is on disk.
 *
 * Recovery on open scans the small `l!` and `m!` entries and the `i!` keys (not their values, see
 * level-keys.ts): ready items come back in order, a leased item comes back ready with its attempt counted (its lease record
 * was written before the consumer got it), a delayed item keeps its due time. Expiry and
 * promotion need no write for the same reason: recovery from the record reaches the same state.
 *
 * Per item over its life: push (one put), its share of one lease record, ack (one delete).
 */
import { Level } from 'level';
import { KefuError } from '@kefu/protocol';
import { chainedBatchTarget, GroupCommitWriter, type BatchOp } from '../storage/index.js';
import { BUSY, DEAD, F_MARKER, LEASED, LocalIndex, READY } from './local-index.js';
import { checkLease, deadSlot, leaseNext, readyPosition, revive, sweep } from './local-ops.js';
import { hashId } from './id-table.js';
import {
  decodeIdValue, decodeItemKey, decodeLeaseKey, decodeMarker, decodeRow, encodeMarker, encodeRow, itemKey, itemPrefix, leaseKey,
  markerKey, MAX_SEQ, type MarkerState, type Row,
} from './level-keys.js';
import { QueueStore } from './queue-store.js';
import type {
  LeaseGrant, NackDisposition, PushOutcome, PushRecord, QueueCounts, QueueStoreSupports, StoredItem, TickOutcome,
} from './types.js';

export interface LevelQueueStoreOptions {
  /** Directory of the LevelDB database (exclusive with `db`). */
  location?: string;
  /** An existing `level` database with string keys and values (exclusive with `location`); the store opens and closes it. */
  db?: Level<string, string>;
  /**
   * Flush every batch to disk before resolving (fsync). With `false` a write resolves once
   * LevelDB has it in its log: a process crash loses nothing, a machine or power failure may lose
   * the writes of about the last second (see docs/queue.md).
   * @defaultValue true
   */
  sync?: boolean;
  /**
   * Most operations in one group-commit batch.
   * @defaultValue 4096
   */
  maxBatchOps?: number;
  /**
   * Compact the consumed head of the item range after this many deletions, so acked items leave
   * no growing run of tombstones in front of the live items. 0 disables it.
   * @defaultValue 100000
   */
  compactEvery?: number;
  /**
   * Index slots to allocate up front.
   * @defaultValue 1024
   */
  initialCapacity?: number;
  /**
   * Bytes of recently pushed items kept in memory so that a lease soon after the push needs no
   * disk read (oldest dropped first), each row counted as its encoded length + 160 bytes of
   * object overhead. A row is only cached while the ready items, at its size, would fit: behind a
   * longer backlog it would be dropped before its lease; once the backlog holds four times
   * this many bytes of rows, the cache is emptied. 0 disables it.
   * @defaultValue 8388608
   */
  cacheBytes?: number;
  /**
   * After recovering at least this many items, close and reopen the database (only one this
   * store opened from `location`): the recovery scan leaves every table file's pages mapped,
   * which counts in RSS. 0 never reopens.
   * @defaultValue 50000
   */
  reopenAfterRecovery?: number;
}

/** Heap bytes a cached row costs beyond its JSON text (row array, entry object, Map entry). */
const CACHE_ENTRY_OVERHEAD = 160;

export class LevelQueueStore<T = unknown> extends QueueStore<T> {
  readonly supports: QueueStoreSupports = { durable: true, shared: false, position: true, exactCounts: true };
  readonly #db: Level<string, string>;
  readonly #writer: GroupCommitWriter;
  /**
   * Acks, nacks, removes and requeues: a second synced writer, so that their batch and the push
   * batch are in flight together (LevelDB joins concurrent writers into one log write and one
   * fsync) instead of one waiting for the other. Two writes about one item never race: an item
   * is BUSY while a write about it is in flight, and an ack follows its push.
   */
  readonly #settleWriter: GroupCommitWriter;
  /**
   * Lease records only need to survive a process crash (they count attempts), so they skip the
   * fsync: a lease then costs no durable round trip. Ordering is safe: an ack or nack of a lease
   * is only possible after the lease, hence its record write, resolved.
   */
  readonly #markWriter: GroupCommitWriter;
  /** Lease record each leased (or expired and not yet re-leased) slot last appeared in. */
  readonly #leaseOf = new Map<number, number>();
  /** Slots still pointing at each lease record; the write that drops the last one deletes it. */
  readonly #leaseLive = new Map<number, number>();
  /** Number of the next lease record. */
  #leaseNo = 0;
  /** Rows of recently pushed items by slot (insertion order = age), bounded by #cacheLimit bytes. */
  readonly #cache = new Map<number, { row: Row; bytes: number }>();
  readonly #cacheLimit: number;
  #cacheBytes = 0;
  readonly #compactEvery: number;
  readonly #reopenAfter: number;
  readonly #ownsDb: boolean;
  #index: LocalIndex;
  #seq = 0;
  /** Push batches in flight, so a concurrent duplicate waits for the outcome. */
  readonly #pushing = new Set<Promise<void>>();
  #deletes = 0;
  #compacting = false;

  constructor(options: LevelQueueStoreOptions) {
    super();
    if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
    const o = { sync: true, maxBatchOps: 4096, compactEvery: 100_000, initialCapacity: 1024, cacheBytes: 8 * 2 ** 20, reopenAfterRecovery: 50_000, ...options };
    if (o.location !== undefined && o.db !== undefined) throw new TypeError('pass either location or db, not both');
    if (o.db === undefined && (typeof o.location !== 'string' || o.location.length === 0)) throw new TypeError('location must be a non-empty string');
    if (typeof o.sync !== 'boolean') throw new TypeError('sync must be a boolean');
    if (!Number.isInteger(o.compactEvery) || o.compactEvery < 0) throw new RangeError('compactEvery must be an integer >= 0');
    if (!Number.isInteger(o.initialCapacity) || o.initialCapacity < 1) throw new RangeError('initialCapacity must be a positive integer');
    if (!Number.isInteger(o.cacheBytes) || o.cacheBytes < 0) throw new RangeError('cacheBytes must be an integer >= 0');
    if (!Number.isInteger(o.reopenAfterRecovery) || o.reopenAfterRecovery < 0) throw new RangeError('reopenAfterRecovery must be an integer >= 0');
    this.#reopenAfter = o.reopenAfterRecovery;
    this.#ownsDb = o.db === undefined;
    // Checked here too (GroupCommitWriter checks it again) because `new Level()` starts opening
    // at once: a bad option found after it would leave a database directory behind.
    if (!Number.isInteger(o.maxBatchOps) || o.maxBatchOps < 1) throw new RangeError('maxBatchOps must be a positive integer');
    this.#db = o.db ?? new Level<string, string>(o.location!, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    this.#writer = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: o.sync, maxBatchOps: o.maxBatchOps });
    this.#settleWriter = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: o.sync, maxBatchOps: o.maxBatchOps });
    this.#markWriter = new GroupCommitWriter(chainedBatchTarget(this.#db), { sync: false, maxBatchOps: o.maxBatchOps });
    this.#cacheLimit = o.cacheBytes;
    this.#compactEvery = o.compactEvery;
    this.#index = new LocalIndex(o.initialCapacity);
  }

  /** Bytes of rows held by the pushed-row cache (see `cacheBytes`), for memory accounting. */
  get cachedBytes(): number {
    return this.#cacheBytes;
  }

  /** The underlying database (for operations tooling). */
  get db(): Level<string, string> {
    return this.#db;
  }

  protected async _open(): Promise<void> {
    try {
      await this.#db.open();
      const loaded = await this.#recover(Date.now());
      // The recovery scan read every table file through LevelDB's memory maps, and mapped file
      // pages count in RSS (about 25 MB for a million small items, more with bigger payloads)
      // until the tables close. Reopening drops them; only done for a database this store opened.
      if (this.#reopenAfter > 0 && loaded >= this.#reopenAfter && this.#ownsDb) {
        await this.#db.close();
        await this.#db.open();
      }
    } catch (err) {
      await this.#db.close().catch(() => undefined);
      throw storeError('open', err);
    }
  }

  protected async _close(): Promise<void> {
    await Promise.all([this.#writer.close(), this.#settleWriter.close(), this.#markWriter.close()]);
    this.#cache.clear();
    while (this.#compacting) await new Promise((r) => setTimeout(r, 10));
    await this.#db.close();
  }

  protected async _push(records: ReadonlyArray<PushRecord<T>>): Promise<PushOutcome[]> {
    const ix = this.#index;
    // A duplicate of an id whose push is in flight (its slot is BUSY) waits for the pushes in
    // flight, so it never reports an item that may yet fail.
    if (this.#pushing.size > 0) {
      for (const r of records) {
        const s = ix.lookup(r.id);
        if (s >= 0 && ix.state[s] === BUSY) {
          await Promise.allSettled(this.#pushing);
          break;
        }
      }
    }
    const out: PushOutcome[] = [];
    const ops: BatchOp[] = [];
    // Parallel arrays, not a tuple and a row per item: everything built here stays alive until
    // the batch is written, and with a big pushMany that live set is what V8's young generation grows by.
    const slots: number[] = [];
    const fresh: number[] = [];
    const rows: Array<{ row: Row; bytes: number } | undefined> = [];
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const h = hashId(r.id);
      const found = ix.lookup(r.id, h);
      if (found >= 0) {
        out.push({ id: r.id, created: false, state: ix.stateName(found) ?? 'leased' });
        continue;
      }
      if (this.#seq > MAX_SEQ) throw new KefuError('KEFU_ERR_STORE', 'sequence space exhausted');
      const seq = this.#seq++;
      const slot = ix.alloc(r.id, r.orderKey, seq, r.maxAttempts, 0, h);
      const value = encodeRow(r.id, r.priority, r.enqueuedAt, r.maxAttempts, r.payload);
      ops.push({ type: 'put', key: itemKey(r.orderKey, seq, r.maxAttempts, r.id), value });
      bytes = value.length + CACHE_ENTRY_OVERHEAD;
      rows.push(this.#cacheable(bytes) ? { row: [r.id, r.priority, r.enqueuedAt, r.maxAttempts, r.payload], bytes } : undefined);
      const delayed = r.availableAt > r.enqueuedAt;
      if (delayed) {
        ops.push({ type: 'put', key: markerKey(r.id), value: encodeMarker('d', 0, r.availableAt, this.#leaseNo) });
        ix.flags[slot] = F_MARKER;
      }
      slots.push(slot);
      fresh.push(i);
      out.push({ id: r.id, created: true, state: delayed ? 'delayed' : 'ready' });
    }
    if (ops.length === 0) return out;
    const write = this.#writer.write(ops);
    this.#pushing.add(write);
    try {
      await write;
    } catch (err) {
      for (const slot of slots) ix.release(slot);
      throw err;
    } finally {
      this.#pushing.delete(write);
    }
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const r = records[fresh[i]!]!;
      if (ix.state[slot] !== BUSY) continue; // removed meanwhile
      if (r.availableAt > r.enqueuedAt) ix.toDelayed(slot, r.availableAt);
      else ix.toReady(slot);
      const row = rows[i];
      if (row !== undefined) this.#cachePut(slot, row);
    }
    // The backlog grew by this batch: the cache may now have to be emptied.
    this.#cacheable(bytes);
    return out;
  }

  protected async _lease(max: number, now: number, visibilityMs: number): Promise<Array<LeaseGrant<T>>> {
    const ix = this.#index;
    const expiresAt = now + visibilityMs;
    const r = this.#leaseNo;
    const slots: number[] = [];
    const prev: number[] = [];
    /** The lease record: seq and attempt per item (seqs are never reused, see #recover). */
    const entries: number[] = [];
    const ops: BatchOp[] = [];
    while (slots.length < max) {
      const slot = leaseNext(ix, expiresAt);
      if (slot < 0) break;
      slots.push(slot);
      prev.push(this.#unref(slot, ops));
      this.#leaseOf.set(slot, r);
      entries.push(ix.seqOf(slot), ix.attempts[slot]!);
    }
    if (slots.length === 0) return [];
    this.#leaseNo++;
    this.#leaseLive.set(r, slots.length);
    ops.push({ type: 'put', key: leaseKey(r), value: JSON.stringify(entries) });
    const rows: Array<Row | undefined> = slots.map((slot) => this.#cacheTake(slot));
    let missing: number[] | undefined;
    for (let i = 0; i < rows.length; i++) if (rows[i] === undefined) (missing ??= []).push(i);
    const keys = missing?.map((i) => this.#keyOf(slots[i]!));
    let values: Array<string | undefined> = [];
    try {
      if (keys === undefined) await this.#markWriter.write(ops);
      else [values] = await Promise.all([this.#db.getMany(keys), this.#markWriter.write(ops)]);
    } catch (err) {
      // Not leased after all: put them back as they were.
      for (let i = 0; i < slots.length; i++) {
        const slot = slots[i]!;
        if (this.#leaseOf.get(slot) !== r) continue;
        this.#leaseOf.delete(slot);
        this.#reref(slot, prev[i]!);
        if (ix.state[slot] !== LEASED || ix.dueOf(slot) !== expiresAt) continue;
        ix.attempts[slot] = ix.attempts[slot]! - 1;
        ix.toReady(slot);
      }
      this.#leaseLive.delete(r);
      throw storeError('lease', err);
    }
    if (missing !== undefined) for (let j = 0; j < missing.length; j++) rows[missing[j]!] = parseRow(values[j], keys![j]!);
    const out: Array<LeaseGrant<T>> = [];
    for (let i = 0; i < slots.length; i++) {
      const row = rows[i]!;
      out.push({ id: row[0], payload: row[4] as T, priority: row[1], enqueuedAt: row[2], attempt: ix.attempts[slots[i]!]!, maxAttempts: row[3], expiresAt });
    }
    return out;
  }

  protected async _ack(id: string, attempt: number | undefined, now: number): Promise<void> {
    const slot = checkLease(this.#index, id, attempt, now);
    await this.#delete(slot, id);
  }

  protected async _nack(id: string, attempt: number | undefined, now: number, d: NackDisposition): Promise<void> {
    const ix = this.#index;
    const slot = checkLease(ix, id, attempt, now);
    const due = ix.dueOf(slot);
    const state: MarkerState = d.dead ? 'x' : d.availableAt > now ? 'd' : 'r';
    // The marker is newer than the lease record (gen), which it therefore replaces.
    const ops: BatchOp[] = [{ type: 'put', key: markerKey(id), value: encodeMarker(state, ix.attempts[slot]!, state === 'd' ? d.availableAt : 0, this.#leaseNo) }];
    const ref = this.#unref(slot, ops);
    ix.flags[slot] = ix.flags[slot]! | F_MARKER;
    ix.detach(slot);
    try {
      await this.#settleWriter.write(ops);
    } catch (err) {
      if (ix.state[slot] === BUSY) ix.toLeased(slot, due);
      this.#reref(slot, ref);
      throw err;
    }
    if (ix.state[slot] !== BUSY) return;
    if (state === 'x') ix.toDead(slot);
    else if (state === 'd') ix.toDelayed(slot, d.availableAt);
    else ix.toReady(slot);
  }

  protected async _tick(now: number): Promise<TickOutcome> {
    return sweep(this.#index, now);
  }

  protected async _remove(id: string): Promise<boolean> {
    const slot = this.#index.lookup(id);
    if (slot < 0 || this.#index.state[slot] === BUSY) return false;
    await this.#delete(slot, id);
    return true;
  }

  protected async _get(id: string): Promise<StoredItem<T> | undefined> {
    const slot = this.#index.lookup(id);
    if (slot < 0) return undefined;
    const [item] = await this.#items([slot]);
    return item;
  }

  protected async _position(id: string): Promise<number | undefined> {
    return readyPosition(this.#index, id);
  }

  protected async _peek(n: number): Promise<Array<StoredItem<T>>> {
    return this.#items(this.#index.ready.head(n));
  }

  protected async _listDead(limit: number): Promise<Array<StoredItem<T>>> {
    return this.#items(this.#index.deadSlots(limit));
  }

  protected async _requeueDead(id: string, _now: number): Promise<boolean> {
    const ix = this.#index;
    const slot = deadSlot(ix, id);
    if (slot < 0) return false;
    const ops: BatchOp[] = [];
    const ref = this.#unref(slot, ops);
    // A lease record may still name the item (other items keep it): a fresh marker outranks it.
    ops.push(ref < 0 ? { type: 'del', key: markerKey(id) } : { type: 'put', key: markerKey(id), value: encodeMarker('r', 0, 0, this.#leaseNo) });
    ix.detach(slot);
    try {
      await this.#settleWriter.write(ops);
    } catch (err) {
      if ((ix.state[slot] as number) === BUSY) ix.toDead(slot);
      this.#reref(slot, ref);
      throw err;
    }
    revive(ix, slot);
    if (ref >= 0) ix.flags[slot] = F_MARKER;
    return true;
  }

  protected _counts(): QueueCounts {
    return { ...this.#index.counts };
  }

  protected _nextDueAt(): number | undefined {
    return this.#index.nextDueAt();
  }

  /** Deletes an item's keys in one batch, then frees its slot (restored if the write fails). */
  async #delete(slot: number, id: string): Promise<void> {
    const ix = this.#index;
    const prev = ix.state[slot]!;
    const due = ix.dueOf(slot);
    const ops: BatchOp[] = [{ type: 'del', key: itemKey(ix.keys.key[slot]!, ix.seqOf(slot), ix.maxAttempts[slot]!, id) }];
    if ((ix.flags[slot]! & F_MARKER) !== 0) ops.push({ type: 'del', key: markerKey(id) });
    const ref = this.#unref(slot, ops);
    ix.detach(slot);
    try {
      await this.#settleWriter.write(ops);
    } catch (err) {
      if (ix.state[slot] === BUSY) restore(ix, slot, prev, due);
      this.#reref(slot, ref);
      throw err;
    }
    this.#cacheDrop(slot);
    ix.release(slot);
    if (this.#compactEvery > 0 && ++this.#deletes >= this.#compactEvery) this.#compactHead();
  }

  #keyOf(slot: number): string {
    const ix = this.#index;
    return itemKey(ix.keys.key[slot]!, ix.seqOf(slot), ix.maxAttempts[slot]!, ix.ids.idOf(slot));
  }

  /** Drops the slot's lease-record reference, deleting the record in `ops` if it was the last; returns the record number or -1. */
  #unref(slot: number, ops: BatchOp[]): number {
    const r = this.#leaseOf.get(slot);
    if (r === undefined) return -1;
    this.#leaseOf.delete(slot);
    const n = this.#leaseLive.get(r)! - 1;
    if (n > 0) this.#leaseLive.set(r, n);
    else {
      this.#leaseLive.delete(r);
      ops.push({ type: 'del', key: leaseKey(r) });
    }
    return r;
  }

  /** Undoes #unref after a failed write (the batch, record deletion included, did not land). */
  #reref(slot: number, r: number): void {
    if (r < 0) return;
    this.#leaseOf.set(slot, r);
    this.#leaseLive.set(r, (this.#leaseLive.get(r) ?? 0) + 1);
  }

  /**
   * Behind a ready backlog larger than the cache, a row would be evicted long before its lease:
   * caching it would only hold heap. Once the backlog is four times larger than the cache, the
   * rows already held are dropped too (a million-item backlog would otherwise keep cacheBytes of
   * heap for rows that are read from disk just as cheaply when their turn comes); the margin
   * keeps a backlog that hovers near the cache size from emptying it again and again.
   */
  #cacheable(bytes: number): boolean {
    const backlog = this.#index.counts.ready * bytes;
    if (backlog <= this.#cacheLimit) return true;
    if (backlog > 4 * this.#cacheLimit && this.#cache.size > 0) {
      this.#cache.clear();
      this.#cacheBytes = 0;
    }
    return false;
  }

  #cachePut(slot: number, entry: { row: Row; bytes: number }): void {
    if (!this.#cacheable(entry.bytes)) return;
    this.#cache.set(slot, entry);
    this.#cacheBytes += entry.bytes;
    while (this.#cacheBytes > this.#cacheLimit) {
      const oldest = this.#cache.keys().next().value as number;
      this.#cacheDrop(oldest);
    }
  }

  /** Returns the cached row and forgets it: a leased item is rarely leased again soon. */
  #cacheTake(slot: number): Row | undefined {
    const e = this.#cache.get(slot);
    if (e === undefined) return undefined;
    this.#cacheDrop(slot);
    return e.row;
  }

  #cacheDrop(slot: number): void {
    const e = this.#cache.get(slot);
    if (e === undefined) return;
    this.#cache.delete(slot);
    this.#cacheBytes -= e.bytes;
  }

  /** Range-compacts the consumed head of `i!` (where acked items left tombstones), in the background. */
  #compactHead(): void {
    if (this.#compacting) return;
    this.#deletes = 0;
    const first = this.#index.ready.first();
    const end = first < 0 ? 'i"' : itemPrefix(this.#index.keys.key[first]!, this.#index.seqOf(first));
    // compactRange is classic-level's (Node); `level`'s type also covers the browser build.
    const db = this.#db as unknown as { compactRange?: (start: string, end: string) => Promise<void> };
    if (typeof db.compactRange !== 'function') return;
    this.#compacting = true;
    db.compactRange('i!', end).catch(() => undefined).finally(() => { this.#compacting = false; });
  }

  async #items(slots: number[]): Promise<Array<StoredItem<T>>> {
    if (slots.length === 0) return [];
    const ix = this.#index;
    const keys = slots.map((s) => this.#keyOf(s));
    let values: Array<string | undefined>;
    try {
      values = await this.#db.getMany(keys);
    } catch (err) {
      throw storeError('read', err);
    }
    return slots.map((s, i) => {
      const row = parseRow(values[i], keys[i]!);
      return {
        id: row[0], payload: row[4] as T, priority: row[1], enqueuedAt: row[2], state: ix.stateName(s) ?? 'leased',
        attempts: ix.attempts[s]!, maxAttempts: ix.maxAttempts[s]!, dueAt: ix.dueOf(s),
      };
    });
  }

  /**
   * Rewrites a database of the older layout (`k!<id>` index entries beside `i!<orderKey><seq>`)
   * to item keys that carry the id. Each chunk is one atomic batch, so a crash midway resumes.
   */
  async #migrate(): Promise<void> {
    for (;;) {
      const entries = await this.#db.iterator({ gt: 'k!', lt: 'k"', limit: 1000 }).all();
      if (entries.length === 0) return;
      const metas = entries.map(([k, v]) => {
        const m = decodeIdValue(v);
        if (m === undefined) throw new KefuError('KEFU_ERR_STORE', `corrupt index entry ${k}`);
        return m;
      });
      const oldKeys = metas.map((m) => itemPrefix(m.orderKey, m.seq));
      const values = await this.#db.getMany(oldKeys);
      const ops: BatchOp[] = [];
      for (let i = 0; i < entries.length; i++) {
        const [k] = entries[i]!;
        const m = metas[i]!;
        const v = values[i];
        ops.push({ type: 'del', key: k });
        if (v === undefined) continue;
        ops.push({ type: 'del', key: oldKeys[i]! }, { type: 'put', key: itemKey(m.orderKey, m.seq, m.maxAttempts, k.slice(2)), value: v });
      }
      await this.#writer.write(ops);
    }
  }

  /** Loads the index from the database; returns the number of items loaded. */
  async #recover(now: number): Promise<number> {
    await this.#migrate();
    const ix = this.#index;
    const orphans: BatchOp[] = [];
    let maxSeq = -1;
    let maxLease = -1;
    // Lease records first (few: leased items only): the newest record naming each seq.
    const leased = new Map<number, { r: number; attempt: number; slot: number }>();
    const records: number[] = [];
    for await (const [k, v] of this.#db.iterator({ gt: 'l!', lt: 'l"' })) {
      const r = decodeLeaseKey(k);
      const e = parseLeaseRecord(v);
      if (!Number.isInteger(r) || e === undefined) {
        orphans.push({ type: 'del', key: k });
        continue;
      }
      records.push(r);
      if (r > maxLease) maxLease = r;
      for (let i = 0; i < e.length; i += 2) {
        const seq = e[i]!;
        // Seqs named by a record are never reused, even if their items are gone.
        if (seq > maxSeq) maxSeq = seq;
        const cur = leased.get(seq);
        if (cur === undefined || cur.r < r) leased.set(seq, { r, attempt: e[i + 1]!, slot: -1 });
      }
    }
    // A fresh index hands out slots 0, 1, 2, ... in order: the loaded items are slots 0..count-1,
    // already in serving order (the key order).
    let count = 0;
    // nextv in batches, not `for await`: a promise and a result object per key made the
    // recovery of a million items slower and grew V8's young generation.
    const keys = this.#db.keys({ gt: 'i!', lt: 'i"' });
    try {
      for (;;) {
        const batch = await keys.nextv(1000);
        if (batch.length === 0) break;
        for (const k of batch) {
          const meta = decodeItemKey(k);
          if (meta === undefined) {
            // A bare `i!<orderKey><seq>` row is one the older layout never indexed: unreachable, drop it.
            if (k.length === 30) orphans.push({ type: 'del', key: k });
            else throw new KefuError('KEFU_ERR_STORE', `corrupt item key ${k}`);
            continue;
          }
          const h = hashId(meta.id);
          if (ix.lookup(meta.id, h) >= 0) {
            orphans.push({ type: 'del', key: k });
            continue;
          }
          const slot = ix.alloc(meta.id, meta.orderKey, meta.seq, meta.maxAttempts, 0, h);
          count++;
          if (meta.seq > maxSeq) maxSeq = meta.seq;
          const l = leased.size === 0 ? undefined : leased.get(meta.seq);
          if (l !== undefined) l.slot = slot;
        }
      }
    } finally {
      await keys.close();
    }
    const gens = new Map<number, number>();
    for await (const [k, v] of this.#db.iterator({ gt: 'm!', lt: 'm"' })) {
      const slot = ix.lookup(k.slice(2));
      const m = decodeMarker(v);
      if (slot < 0 || m === undefined) {
        orphans.push({ type: 'del', key: k });
        continue;
      }
      ix.attempts[slot] = m.attempts;
      ix.flags[slot] = F_MARKER;
      if (m.gen > 0) gens.set(slot, m.gen);
      if (m.gen - 1 > maxLease) maxLease = m.gen - 1;
      if (m.state === 'x' || (m.state === 'l' && m.attempts >= ix.maxAttempts[slot]!)) ix.toDead(slot);
      else if (m.state === 'd') ix.toDelayed(slot, m.dueAt);
      // else ready: left BUSY, loaded in order with the others below
    }
    // A lease record newer than the item's marker wins: the item was leased (then perhaps
    // expired) after the marker; it is ready again with that attempt counted, or dead.
    for (const l of leased.values()) {
      const slot = l.slot;
      if (slot < 0 || l.r < (gens.get(slot) ?? 0)) continue;
      if (l.attempt > ix.attempts[slot]!) ix.attempts[slot] = l.attempt;
      ix.detach(slot);
      if (ix.attempts[slot]! >= ix.maxAttempts[slot]!) ix.toDead(slot);
      this.#leaseOf.set(slot, l.r);
      this.#leaseLive.set(l.r, (this.#leaseLive.get(l.r) ?? 0) + 1);
    }
    for (const r of records) if (!this.#leaseLive.has(r)) orphans.push({ type: 'del', key: leaseKey(r) });
    // Sorting once and filling chunks beats one insert per item (k! comes in id order, not serving order).
    let n = 0;
    for (let slot = 0; slot < count; slot++) if (ix.state[slot] === BUSY) n++;
    const ready = new Int32Array(n);
    n = 0;
    for (let slot = 0; slot < count; slot++) if (ix.state[slot] === BUSY) ready[n++] = slot;
    ix.loadReady(ready, true);
    this.#seq = maxSeq + 1;
    this.#leaseNo = maxLease + 1;
    if (orphans.length > 0) await this.#writer.write(orphans);
    void now;
    return count;
  }
}

function restore(ix: LocalIndex, slot: number, state: number, due: number): void {
  if (state === READY) ix.toReady(slot);
  else if (state === LEASED) ix.toLeased(slot, due);
  else if (state === DEAD) ix.toDead(slot);
  else ix.toDelayed(slot, due);
}

function parseRow(value: string | undefined, key: string): Row {
  if (value === undefined) throw new KefuError('KEFU_ERR_STORE', `item ${key} is missing from the database`);
  return decodeRow(value);
}

/** [seq, attempt, seq, attempt, ...], or undefined when the record is not that. */
function parseLeaseRecord(v: string): number[] | undefined {
  let e: unknown;
  try {
    e = JSON.parse(v);
  } catch {
    return undefined;
  }
  if (!Array.isArray(e) || e.length % 2 !== 0 || !e.every((x) => Number.isInteger(x) && x >= 0)) return undefined;
  return e as number[];
}

function storeError(op: string, err: unknown): KefuError {
  if (err instanceof KefuError) return err;
  return new KefuError('KEFU_ERR_STORE', `LevelDB ${op} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
}
