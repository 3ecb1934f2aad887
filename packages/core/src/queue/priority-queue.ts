/**
 * PriorityQueue: validation, defaults, retries, events and the due-time timer, over a QueueStore
 * that holds and orders the items.
 *
 * Aging without re-sorting: effective priority = priority + waited * agingRate. Between two
 * items `now` cancels out, so the order key `enqueuedAt * agingRate - priority` (lower first)
 * never changes: it is computed once at push and a retry keeps it, so a retried item keeps its
 * priority and its place. The sequence the store assigns breaks ties (FIFO).
 */
import { EventEmitter } from 'eventemitter3';
import { KefuError, isKefuError } from '@kefu/protocol';
import { MemoryQueueStore } from './memory-queue-store.js';
import { backoffDelay, isPriority, isValidId, MAX_ATTEMPTS_LIMIT, MAX_ID_LENGTH, MAX_PRIORITY, MIN_PRIORITY, resolveOptions, type PriorityQueueOptions, type ResolvedOptions } from './options.js';
import type { PriorityQueueEvents } from './events.js';
import type { QueueStore } from './queue-store.js';
import type { LeaseGrant, PushOutcome, PushRecord, QueueCounts, StoredItem, TickOutcome } from './types.js';
import { WakeSignal } from './wake-signal.js';

export interface PushOptions {
  /** Higher is served first; an integer from MIN_PRIORITY to MAX_PRIORITY. @defaultValue options.defaultPriority */
  priority?: number;
  /** Idempotency key: a second push with an id still in the queue is a no-op. @defaultValue a generated id */
  id?: string;
  /** Milliseconds before the item becomes ready. @defaultValue 0 */
  delay?: number;
  /** Leases before dead-letter. @defaultValue options.maxAttempts */
  maxAttempts?: number;
}

export interface PushResult {
  id: string;
  /** False when an item with this id was already in the queue (nothing changed). */
  created: boolean;
}

/** A leased item; pass it to ack/nack so a late ack cannot settle a newer lease. */
export type Lease<T> = LeaseGrant<T>;

export interface LeaseOptions {
  /** @defaultValue options.visibilityMs */
  visibilityMs?: number;
}

export interface NackOptions {
  /** Delay before the retry; omitted: exponential backoff with jitter. */
  delayMs?: number;
}

export interface IterateOptions {
  /** Leases this iterator holds unsettled at most. @defaultValue 1 */
  concurrency?: number;
  /** @defaultValue options.visibilityMs */
  visibilityMs?: number;
  /** Ends the iteration. */
  signal?: AbortSignal;
}

/** Longest a waiting consumer sleeps before it looks again (a shared store has no push event). */
const IDLE_POLL_MS = 1000;

export class PriorityQueue<T = unknown> extends EventEmitter<PriorityQueueEvents<T>> {
  readonly options: Readonly<ResolvedOptions>;
  readonly #store: QueueStore<T>;
  readonly #wake = new WakeSignal();
  readonly #idPrefix = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}-`;
  #idCounter = 0;
  #closed = false;
  #closing: Promise<void> | undefined;
  #paused = false;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  #ticking: Promise<TickOutcome> | undefined;

  constructor(options: PriorityQueueOptions<T> = {}) {
    super();
    this.options = resolveOptions(options);
    const s = options.store;
    this.#store = s === undefined ? new MemoryQueueStore<T>() : typeof s === 'function' ? s() : s;
    if (typeof this.#store?.lease !== 'function') throw new TypeError('store must be a QueueStore or a function returning one');
  }

  get store(): QueueStore<T> {
    return this.#store;
  }

  get isPaused(): boolean {
    return this.#paused;
  }

  /** Ready + delayed + leased items (dead-letter excluded). */
  get size(): number {
    const c = this.#store.counts();
    return c.ready + c.delayed + c.leased;
  }

  counts(): QueueCounts {
    return this.#store.counts();
  }

  /** Opens the store (the other methods do it on first use). */
  async open(): Promise<void> {
    if (this.#closed) throw closedError();
    await this.#io(this.#store.open());
    this.#arm();
  }

  async push(payload: T, options: PushOptions = {}): Promise<PushResult> {
    // One record without the array of options objects pushMany takes: this is the hot path.
    if (typeof options !== 'object' || options === null) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'options must be an object');
    const out = await this.#pushRecords([this.#record(payload, options, Date.now())]);
    return { id: out[0]!.id, created: out[0]!.created };
  }

  /** Pushes several items in one store operation (one shared durable batch for LevelDB). */
  async pushMany(items: ReadonlyArray<PushOptions & { payload: T }>): Promise<PushResult[]> {
    if (!Array.isArray(items)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'items must be an array');
    const now = Date.now();
    const records = items.map((it) => {
      if (typeof it !== 'object' || it === null) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'each item must be an object');
      return this.#record(it.payload, it, now);
    });
    const out = await this.#pushRecords(records);
    return out.map((o) => ({ id: o.id, created: o.created }));
  }

  /** Stores validated records (opening the store first if needed), then wakes and tells. */
  async #pushRecords(records: Array<PushRecord<T>>): Promise<PushOutcome[]> {
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    let out: PushOutcome[];
    try {
      out = await this.#store.push(records);
    } catch (err) {
      throw this.#ioError(err);
    }
    this.#pushed(records, out);
    return out;
  }

  #pushed(records: Array<PushRecord<T>>, out: PushOutcome[]): void {
    let delayed = false;
    const listened = this.listenerCount('pushed') > 0;
    for (let i = 0; i < out.length; i++) {
      const o = out[i]!;
      if (!o.created) continue;
      if (o.state === 'delayed') delayed = true;
      if (listened) this.emit('pushed', { id: o.id, priority: records[i]!.priority, delayed: o.state === 'delayed' });
    }
    if (delayed) this.#arm();
    this.#wake.notify();
  }

  /** Leases up to `n` ready items, highest effective priority first. Empty when paused. */
  async lease(n = 1, options: LeaseOptions = {}): Promise<Array<Lease<T>>> {
    if (!Number.isInteger(n) || n < 1 || n > this.options.maxLeaseBatch) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `n must be an integer from 1 to ${this.options.maxLeaseBatch}`);
    }
    const visibilityMs = options.visibilityMs ?? this.options.visibilityMs;
    if (!Number.isInteger(visibilityMs) || visibilityMs < 1) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'visibilityMs must be a positive integer');
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    if (this.#paused) return [];
    await this.#tickIfDue();
    let grants: Array<Lease<T>>;
    try {
      grants = await this.#store.lease(n, Date.now(), visibilityMs);
    } catch (err) {
      throw this.#ioError(err);
    }
    if (grants.length > 0) {
      this.#arm();
      if (this.listenerCount('leased') > 0) for (const g of grants) this.emit('leased', g);
    }
    return grants;
  }

  /** Settles a lease: the item leaves the queue. Pass the Lease to guard against a stale ack. */
  async ack(lease: string | Lease<T>): Promise<void> {
    const [id, attempt] = leaseRef(lease);
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    try {
      await this.#store.ack(id, attempt, Date.now());
    } catch (err) {
      throw this.#ioError(err);
    }
    this.emit('acked', id, attempt ?? 0);
    this.#afterLeave();
  }

  /**
   * Gives a lease back: the item is retried after `delayMs` (default: exponential backoff with
   * jitter), keeping its priority and place; after maxAttempts leases it goes to dead-letter.
   */
  async nack(lease: string | Lease<T>, options: NackOptions = {}): Promise<void> {
    const { delayMs } = options;
    if (delayMs !== undefined && (!Number.isInteger(delayMs) || delayMs < 0)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'delayMs must be an integer >= 0');
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    let attempt: number;
    let maxAttempts: number;
    const id = typeof lease === 'string' ? lease : lease?.id;
    if (typeof lease === 'string') {
      const item = await this.#io(this.#store.get(lease));
      if (item === undefined || item.state !== 'leased') throw new KefuError('KEFU_ERR_QUEUE_UNKNOWN_LEASE', `item ${JSON.stringify(lease)} is not leased`, { details: { id: lease } });
      attempt = item.attempts;
      maxAttempts = item.maxAttempts;
    } else {
      [, attempt] = leaseRef(lease) as [string, number];
      maxAttempts = lease.maxAttempts;
    }
    const now = Date.now();
    const dead = attempt >= maxAttempts;
    const availableAt = now + (delayMs ?? backoffDelay(this.options.backoff, attempt));
    await this.#io(this.#store.nack(id!, attempt, now, { availableAt, dead }));
    if (dead) {
      this.emit('dead', id!, attempt, 'nack');
      this.#afterLeave();
    } else {
      this.emit('nacked', id!, attempt, availableAt);
      this.#arm();
      this.#wake.notify();
    }
  }

  /** Deletes an item in any state; false when the id is unknown. */
  async remove(id: string): Promise<boolean> {
    checkId(id);
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    const removed = await this.#io(this.#store.remove(id));
    if (removed) {
      this.emit('removed', id);
      this.#afterLeave();
    }
    return removed;
  }

  async get(id: string): Promise<StoredItem<T> | undefined> {
    checkId(id);
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    return this.#io(this.#store.get(id));
  }

  /** 1-based place among ready items ("you are number 3"), undefined when not ready. */
  async position(id: string): Promise<number | undefined> {
    checkId(id);
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    await this.#tickIfDue();
    return this.#io(this.#store.position(id));
  }

  /** The next `n` ready items, in the order lease() would take them. */
  async peek(n = 1): Promise<Array<StoredItem<T>>> {
    if (!Number.isInteger(n) || n < 1 || n > this.options.maxLeaseBatch) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `n must be an integer from 1 to ${this.options.maxLeaseBatch}`);
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    await this.#tickIfDue();
    return this.#io(this.#store.peek(n));
  }

  /** Dead-letter items, up to `limit`. */
  async listDead(limit = 100): Promise<Array<StoredItem<T>>> {
    if (!Number.isInteger(limit) || limit < 1) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'limit must be a positive integer');
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    return this.#io(this.#store.listDead(limit));
  }

  /** Moves a dead-letter item back to ready with its attempts reset. */
  async requeue(id: string): Promise<void> {
    checkId(id);
    const opening = this.#ready();
    if (opening !== undefined) await opening;
    const ok = await this.#io(this.#store.requeueDead(id, Date.now()));
    if (!ok) throw new KefuError('KEFU_ERR_QUEUE_UNKNOWN_ITEM', `no dead-letter item ${JSON.stringify(id)}`, { details: { id } });
    this.emit('requeued', id);
    this.#wake.notify();
  }

  /** Stops lease() and the iterators from handing out items; pushes still land. */
  pause(): void {
    if (this.#paused) return;
    this.#paused = true;
    this.emit('paused');
  }

  resume(): void {
    if (!this.#paused) return;
    this.#paused = false;
    this.emit('resumed');
    this.#wake.notify();
  }

  /**
   * Leases items one by one, holding at most `concurrency` unsettled (ack or nack each one).
   * Ends when the queue closes or `signal` aborts.
   */
  async *iterate(options: IterateOptions = {}): AsyncGenerator<Lease<T>, void, undefined> {
    const concurrency = options.concurrency ?? 1;
    if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > this.options.maxLeaseBatch) {
      throw new RangeError(`concurrency must be an integer from 1 to ${this.options.maxLeaseBatch}`);
    }
    const held = new Set<string>();
    const settle = (id: string): void => {
      if (held.delete(id)) this.#wake.notify();
    };
    const onDead = (id: string): void => settle(id);
    this.on('acked', settle).on('nacked', settle).on('expired', settle).on('removed', settle).on('dead', onDead);
    const signal = options.signal;
    const onAbort = (): void => this.#wake.notify();
    signal?.addEventListener('abort', onAbort);
    try {
      while (!this.#closed && signal?.aborted !== true) {
        const room = concurrency - held.size;
        const batch = room > 0 && !this.#paused ? await this.lease(room, options.visibilityMs === undefined ? {} : { visibilityMs: options.visibilityMs }) : [];
        if (batch.length === 0) {
          const due = this.#store.nextDueAt();
          await this.#wake.wait(due === undefined ? IDLE_POLL_MS : Math.min(IDLE_POLL_MS, Math.max(1, due - Date.now())));
          continue;
        }
        for (const g of batch) {
          held.add(g.id);
          yield g;
        }
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      this.off('acked', settle).off('nacked', settle).off('expired', settle).off('removed', settle).off('dead', onDead);
    }
  }

  [Symbol.asyncIterator](): AsyncGenerator<Lease<T>, void, undefined> {
    return this.iterate();
  }

  /** Stops the timer, closes the store (pending writes finish) and rejects later calls. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      if (this.#timer !== undefined) clearTimeout(this.#timer);
      this.#timer = undefined;
      this.#wake.notify();
      this.#closing = (async () => {
        await this.#ticking?.catch(() => undefined);
        await this.#store.close();
        this.emit('closed');
      })();
    }
    return this.#closing;
  }

  #record(p: T, it: PushOptions, now: number): PushRecord<T> {
    const priority = it.priority ?? this.options.defaultPriority;
    if (!isPriority(priority)) {
      throw new KefuError('KEFU_ERR_QUEUE_INVALID_PRIORITY', `priority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}, got ${String(priority)}`, { details: { priority: String(priority) } });
    }
    const id = it.id ?? this.#idPrefix + (this.#idCounter++).toString(36);
    if (it.id !== undefined && !isValidId(id)) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'id must be 1 to 255 printable ASCII characters');
    const delay = it.delay ?? 0;
    if (!Number.isInteger(delay) || delay < 0) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'delay must be an integer >= 0 (ms)');
    const maxAttempts = it.maxAttempts ?? this.options.maxAttempts;
    if (!Number.isInteger(maxAttempts) || maxAttempts < 1 || maxAttempts > MAX_ATTEMPTS_LIMIT) {
      throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `maxAttempts must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT}`);
    }
    // A UTF-8 string takes at most 3 bytes per UTF-16 unit: short strings need no measuring.
    const bytes = typeof p === 'string' && p.length * 3 <= this.options.maxPayloadBytes ? 0 : payloadBytes(p);
    if (bytes > this.options.maxPayloadBytes) {
      throw new KefuError('KEFU_ERR_PAYLOAD_TOO_LARGE', `payload is ${bytes} bytes; the limit is ${this.options.maxPayloadBytes}`, { details: { bytes, limit: this.options.maxPayloadBytes } });
    }
    return { id, payload: p, priority, orderKey: (now / 1000) * this.options.agingRate - priority, enqueuedAt: now, availableAt: now + delay, maxAttempts };
  }

  #ready(): Promise<void> | void {
    if (this.#closed) throw closedError();
    if (this.#store.status !== 'open') return this.open();
  }

  async #tickIfDue(): Promise<void> {
    const due = this.#store.nextDueAt();
    if (due !== undefined && due <= Date.now()) await this.#tick();
  }

  /** One sweep at a time; concurrent callers share it. */
  #tick(): Promise<TickOutcome> {
    if (this.#ticking === undefined) {
      this.#ticking = this.#io(this.#store.tick(Date.now()))
        .then((out) => {
          for (const e of out.expired) {
            this.emit('expired', e.id, e.attempt);
            if (e.dead) this.emit('dead', e.id, e.attempt, 'expired');
          }
          if (out.expired.length > 0 || out.promoted > 0) this.#wake.notify();
          if (out.expired.some((e) => e.dead)) this.#maybeDrained();
          return out;
        })
        .finally(() => {
          this.#ticking = undefined;
          this.#arm();
        });
    }
    return this.#ticking;
  }

  /** Keeps one timer armed for the store's next due time (lease expiry or delayed item). */
  #arm(): void {
    if (this.#closed) return;
    const due = this.#store.nextDueAt() ?? Infinity;
    // A timer that fires no later than needed stays: firing early only sweeps nothing and re-arms,
    // while re-arming on every ack (the earliest lease is usually the one just acked) costs a
    // clearTimeout + setTimeout per item.
    if (this.#timer !== undefined && this.#timerAt <= due) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = due;
    if (due === Infinity) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#timerAt = Infinity;
      this.#tick().catch(() => undefined);
    }, Math.max(0, Math.min(due - Date.now(), 2 ** 31 - 1)));
    this.#timer.unref();
  }

  #afterLeave(): void {
    this.#arm();
    this.#maybeDrained();
  }

  #maybeDrained(): void {
    if (this.listenerCount('drained') > 0 && this.size === 0) this.emit('drained');
  }

  /** Store I/O errors reach the `error` event as well as the caller. */
  #io<R>(p: Promise<R>): Promise<R> {
    return p.catch((err: unknown) => {
      throw this.#ioError(err);
    });
  }

  /**
   * Emits a store I/O error and returns it to be rethrown. The hot paths (push, lease, ack) await
   * the store inside try/catch and call this, rather than #io, whose `.catch` costs a closure and
   * a promise per call.
   */
  #ioError(err: unknown): unknown {
    if (isKefuError(err, 'KEFU_ERR_STORE')) this.emit('error', err);
    return err;
  }
}

function closedError(): KefuError {
  return new KefuError('KEFU_ERR_CLOSED', 'queue is closed');
}

/** Lookups only need a bounded string: an id that could never be stored is simply not found. */
function checkId(id: unknown): void {
  if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'id must be a string of 1 to 255 characters');
}

function leaseRef<T>(lease: string | Lease<T>): [string, number | undefined] {
  if (typeof lease === 'string') {
    checkId(lease);
    return [lease, undefined];
  }
  if (typeof lease !== 'object' || lease === null || typeof lease.id !== 'string' || !Number.isInteger(lease.attempt) || lease.attempt < 1) {
    throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'expected an item id or a Lease returned by lease()');
  }
  return [lease.id, lease.attempt];
}

/** Size of the payload as stored: the string's or bytes' length, else its JSON text's. */
export function payloadBytes(payload: unknown): number {
  if (typeof payload === 'string') return Buffer.byteLength(payload);
  if (payload instanceof Uint8Array) return payload.byteLength;
  let text: string | undefined;
  try {
    text = JSON.stringify(payload);
  } catch (err) {
    throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', `payload is not JSON-serialisable: ${(err as Error).message}`, { cause: err });
  }
  if (text === undefined) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'payload is not JSON-serialisable (undefined or a function)');
  return Buffer.byteLength(text);
}
