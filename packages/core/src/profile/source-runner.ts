/**
 * Everything the aggregator does around one source: coalescing of concurrent lookups per uid,
 * the breaker, the concurrency limits and bounded queue, the timeout (queueing included) that
 * aborts the call, retries within a budget, batching, the cache and the counters.
 */
import type { EventEmitter } from 'eventemitter3';
import { KefuError } from '@kefu/protocol';
import { Batcher } from './batcher.js';
import { Slots } from './slots.js';
import { CircuitBreaker } from './circuit-breaker.js';
import { ProfileCache } from './profile-cache.js';
import { RetryBudget } from './retry-budget.js';
import { aborted, CallContext, DeadlineQueue, settlesOnAbort } from './abort.js';
import { circuitOpenError, isRetryable, timeoutError, toKefuError, type Outcome } from './outcome.js';
import { mergeBatch, type ResolvedOptions } from './options.js';
import type { ProfileAggregatorEvents } from './events.js';
import type { AnyProfileSource, SourceCounters } from './types.js';

/** The limit shared by all sources. */
export interface GlobalLimit {
  slots: Slots;
}

/** Called once with a lookup's outcome. */
export type Settle = (o: Outcome) => void;

const closedOutcome = (): Outcome => ({ ok: false, status: 'error', error: new KefuError('KEFU_ERR_CLOSED', 'the profile aggregator was closed') });

type CallResult<T> = { ok: true; value: T } | { ok: false; status: 'timeout' | 'error'; error: KefuError };

export class SourceRunner {
  readonly name: string;
  readonly required: boolean;
  readonly cache: ProfileCache | null;
  readonly counters: Omit<SourceCounters, 'active' | 'queued' | 'breaker'> = {
    calls: 0, lookups: 0, ok: 0, errors: 0, timeouts: 0, circuitOpen: 0, cacheHits: 0, staleHits: 0,
    coalesced: 0, retries: 0, batches: 0, fallbacks: 0,
  };
  /**
   * Who waits for each uid in flight: one callback (the common case, no array) or several when
   * concurrent lookups coalesced. Callbacks rather than a promise per lookup: on cold profiles at
   * thousands per second the promise, its reaction and the cleanup reaction were most of the
   * aggregator's own allocations.
   */
  private readonly inflight = new Map<string, Settle | Settle[]>();
  private readonly slots: Slots;
  /** Calls of this source waiting for a slot (its own or the global one). */
  private waiting = 0;
  private readonly breaker: CircuitBreaker;
  private readonly budget: RetryBudget;
  private readonly batcher: Batcher | null;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly deadlines = new DeadlineQueue();
  private readonly settlesOnAbort: boolean;
  private active = 0;
  private closed = false;

  constructor(
    readonly source: AnyProfileSource,
    private readonly opts: ResolvedOptions,
    private readonly global: GlobalLimit,
    private readonly events: EventEmitter<ProfileAggregatorEvents>,
  ) {
    this.name = source.name;
    this.required = source.required === true;
    this.timeoutMs = source.timeoutMs ?? opts.timeoutMs;
    this.retries = source.idempotent === true ? opts.retry.retries : 0;
    this.slots = new Slots(source.concurrency ?? opts.sourceConcurrency);
    this.settlesOnAbort = (source as { [settlesOnAbort]?: boolean })[settlesOnAbort] === true;
    this.breaker = new CircuitBreaker(opts.breaker, (from, to) => this.events.emit('circuit', { source: this.name, from, to }));
    this.budget = new RetryBudget(opts.retry.budgetRatio, opts.retry.budgetMinPerSec);
    const ttl = source.ttlMs ?? (opts.cache ? opts.cache.ttlMs : 0);
    this.cache = opts.cache && ttl > 0 ? new ProfileCache(opts.cache.max, ttl, source.staleMs ?? opts.cache.staleMs) : null;
    if (typeof source.fetchMany === 'function') {
      const b = mergeBatch(opts.batch, source.batch);
      this.batcher = new Batcher(b.maxSize, b.windowMs, (uids, probes) => void this.runBatch(uids, probes));
    } else {
      this.batcher = null;
    }
  }

  get breakerState(): SourceCounters['breaker'] {
    return this.breaker.state;
  }

  snapshot(): SourceCounters {
    return { ...this.counters, active: this.active, queued: this.waiting, breaker: this.breaker.state };
  }

  /**
   * Looks `uid` up at the source, joining a lookup already in flight for it; `done` gets the
   * outcome exactly once, synchronously when there is nothing to wait for (closed, breaker open).
   */
  lookup(uid: string, done: Settle): void {
    const waiting = this.inflight.get(uid);
    if (waiting !== undefined) {
      this.counters.coalesced++;
      if (typeof waiting === 'function') this.inflight.set(uid, [waiting, done]);
      else waiting.push(done);
      return;
    }
    if (this.closed) {
      done(closedOutcome());
      return;
    }
    const gate = this.breaker.acquire();
    if (gate === null) {
      this.counters.circuitOpen++;
      done({ ok: false, status: 'circuit-open', error: circuitOpenError(this.name) });
      return;
    }
    this.counters.lookups++;
    this.inflight.set(uid, done);
    if (this.batcher !== null) {
      this.batcher.add(uid, gate === 'probe');
      return;
    }
    const source = this.source;
    void this.call(1, gate === 'probe' ? 1 : 0, (ctx) => source.fetch(uid, ctx)).then((r) => this.finish(uid, this.settleOne(uid, r)));
  }

  /** Settles pending batches and stops taking lookups. */
  close(): void {
    this.closed = true;
    if (this.batcher !== null) for (const uid of this.batcher.abort()) this.finish(uid, closedOutcome());
    this.cache?.clear();
  }

  /** Hands `o` to everyone waiting for `uid`; the uid is no longer in flight. */
  private finish(uid: string, o: Outcome): void {
    const waiting = this.inflight.get(uid);
    if (waiting === undefined) return;
    this.inflight.delete(uid);
    if (typeof waiting === 'function') waiting(o);
    else for (const w of waiting) w(o);
  }

  private settleOne(uid: string, r: CallResult<unknown>): Outcome {
    if (r.ok) {
      const value = r.value ?? null;
      this.counters.ok++;
      this.cache?.set(uid, value);
      return { ok: true, value };
    }
    if (r.status === 'timeout') this.counters.timeouts++;
    else this.counters.errors++;
    return r;
  }

  private async runBatch(uids: string[], probes: number): Promise<void> {
    const source = this.source;
    this.counters.batches++;
    const r = await this.call(uids.length, probes, (ctx) => source.fetchMany!(uids, ctx));
    if (!r.ok) {
      for (const uid of uids) this.finish(uid, this.settleOne(uid, r));
      return;
    }
    const answer = r.value;
    const map = answer instanceof Map ? (answer as ReadonlyMap<string, unknown>) : null;
    const rec = answer as Readonly<Record<string, unknown>>;
    for (const uid of uids) {
      const v = map !== null ? map.get(uid) : Object.prototype.hasOwnProperty.call(rec, uid) ? rec[uid] : undefined;
      if (v instanceof Error) {
        this.counters.errors++;
        this.finish(uid, { ok: false, status: 'error', error: toKefuError(this.name, v) });
      } else {
        this.finish(uid, this.settleOne(uid, { ok: true, value: v ?? null }));
      }
    }
  }

  /**
   * One call to the source under the limits, the timeout and the retry policy. The timeout starts
   * before queueing, so a saturated source cannot make a caller wait past it.
   */
  private async call<T>(lookups: number, probes: number, fn: (ctx: CallContext) => Promise<T>): Promise<CallResult<T>> {
    const started = performance.now();
    if (this.slots.pending >= this.opts.maxQueue) {
      const error = new KefuError('KEFU_ERR_PROFILE_SOURCE_FAILED', `profile source "${this.name}" has ${this.opts.maxQueue} calls queued; lookup refused`, {
        details: { source: this.name, reason: 'queue-full' },
      });
      this.breaker.record(true, probes);
      this.events.emit('fetch', { source: this.name, uids: lookups, status: 'error', ms: 0, error });
      return { ok: false, status: 'error', error };
    }
    const ctx = new CallContext(started + this.timeoutMs);
    this.deadlines.add(ctx);
    const global = this.global.slots;
    let held = 0;
    try {
      // A free slot is taken synchronously; only a call that must wait races its deadline here.
      if (!this.slots.tryTake()) await this.queueFor(this.slots, ctx);
      held = 1;
      if (!global.tryTake()) await this.queueFor(global, ctx);
      held = 2;
      const value = await this.attempts(fn, ctx);
      this.breaker.record(true, probes);
      if (this.events.listenerCount('fetch') > 0) this.events.emit('fetch', { source: this.name, uids: lookups, status: 'ok', ms: performance.now() - started });
      return { ok: true, value };
    } catch (err) {
      const timedOut = ctx.aborted;
      const error = timedOut ? timeoutError(this.name, this.timeoutMs) : toKefuError(this.name, err);
      const status = timedOut || error.code === 'KEFU_ERR_PROFILE_SOURCE_TIMEOUT' ? 'timeout' : 'error';
      // A call given up on for any reason is aborted, so that the source releases its socket.
      if (!timedOut) ctx.abort();
      this.breaker.record(false, probes);
      this.events.emit('fetch', { source: this.name, uids: lookups, status, ms: performance.now() - started, error });
      return { ok: false, status, error };
    } finally {
      this.deadlines.settle(ctx);
      if (held === 2) global.release();
      if (held >= 1) this.slots.release();
    }
  }

  /** Waits for a slot of `slots` within the call's deadline; resolves holding it. */
  private async queueFor(slots: Slots, ctx: CallContext): Promise<void> {
    const w = slots.wait();
    this.waiting++;
    try {
      await ctx.race(w.promise);
    } catch (err) {
      slots.cancel(w);
      throw err;
    } finally {
      this.waiting--;
    }
  }

  private async attempts<T>(fn: (ctx: CallContext) => Promise<T>, ctx: CallContext): Promise<T> {
    if (ctx.aborted) throw aborted;
    this.active++;
    try {
      this.budget.deposit();
      for (let attempt = 0; ; attempt++) {
        this.counters.calls++;
        try {
          return await (this.settlesOnAbort ? fn(ctx) : ctx.race(fn(ctx)));
        } catch (err) {
          if (ctx.aborted || err === aborted || attempt >= this.retries) throw err;
          const error = toKefuError(this.name, err);
          if (!isRetryable(error) || !this.budget.tryWithdraw()) throw error;
          this.counters.retries++;
          this.events.emit('retry', { source: this.name, attempt: attempt + 1, error });
          const d = this.opts.retry.delayMs;
          if (d > 0) await pause(d * (1 + Math.random() * 0.5), ctx);
        }
      }
    } finally {
      this.active--;
    }
  }
}

/** Waits `ms` before a retry, or rejects with `aborted` as soon as the call is given up on. */
async function pause(ms: number, ctx: CallContext): Promise<void> {
  let t: NodeJS.Timeout | undefined;
  try {
    await ctx.race(new Promise<void>((resolve) => {
      t = setTimeout(resolve, ms);
    }));
  } finally {
    clearTimeout(t);
  }
}
