/**
 * ProfileAggregator's options, their defaults and the checks on impossible combinations.
 */
import type { AnyProfileSource, BatchOptions } from './types.js';

export interface CacheOptions {
  /** Most entries kept per source (least recently used go first). @defaultValue 10000 */
  max?: number;
  /** Default time a value is fresh, in ms; a source's own `ttlMs` wins. @defaultValue 30000 */
  ttlMs?: number;
  /** Default stale-while-revalidate window after the TTL, in ms; a source's `staleMs` wins. @defaultValue 300000 */
  staleMs?: number;
}

export interface BreakerOptions {
  /** Failures within `windowMs` that open the breaker. @defaultValue 5 */
  failureThreshold?: number;
  /** The window failures are counted in, in ms. @defaultValue 10000 */
  windowMs?: number;
  /** How long the breaker stays open before letting probes through, in ms. @defaultValue 5000 */
  openMs?: number;
  /** Concurrent probe calls allowed when half-open; one success closes the breaker. @defaultValue 1 */
  halfOpenProbes?: number;
}

export interface RetryOptions {
  /** Retries per call for idempotent sources (0: none). @defaultValue 1 */
  retries?: number;
  /** Pause before a retry, in ms (with up to 50% random jitter added). @defaultValue 10 */
  delayMs?: number;
  /** Retry tokens earned per call: 0.1 allows retries on about 10% of calls. @defaultValue 0.1 */
  budgetRatio?: number;
  /** Retry tokens earned per second regardless of traffic (also the starting balance). @defaultValue 5 */
  budgetMinPerSec?: number;
}

export interface ProfileAggregatorOptions<S extends readonly AnyProfileSource[]> {
  /** The sources, each with a unique name. */
  sources: S;
  /** Most source calls in flight across all sources. @defaultValue 512 */
  concurrency?: number;
  /** Most calls in flight per source, unless the source sets `concurrency`. @defaultValue 256 */
  sourceConcurrency?: number;
  /** Most calls waiting for a slot per source; beyond it a lookup fails at once (bounded memory). @defaultValue 10000 */
  maxQueue?: number;
  /** Per-call time limit, unless the source sets `timeoutMs`, in ms. @defaultValue 500 */
  timeoutMs?: number;
  /** Profile cache; `false` turns caching off (coalescing stays). */
  cache?: CacheOptions | false;
  /** Circuit breaker per source. */
  breaker?: BreakerOptions;
  /** Retries for sources marked `idempotent`. */
  retry?: RetryOptions;
  /** Batching defaults for sources with `fetchMany`; a source's own `batch` wins. */
  batch?: BatchOptions;
  /** The uids accepted; anything else rejects with KEFU_ERR_PROFILE_INVALID_UID. @defaultValue /^[A-Za-z0-9_.:@-]{1,128}$/ */
  uidPattern?: RegExp;
}

export interface ResolvedOptions {
  concurrency: number;
  sourceConcurrency: number;
  maxQueue: number;
  timeoutMs: number;
  cache: Required<CacheOptions> | false;
  breaker: Required<BreakerOptions>;
  retry: Required<RetryOptions>;
  batch: Required<BatchOptions>;
  uidPattern: RegExp;
}

export const defaultUidPattern = /^[A-Za-z0-9_.:@-]{1,128}$/;

const defaults = {
  concurrency: 512,
  sourceConcurrency: 256,
  maxQueue: 10_000,
  timeoutMs: 500,
  cache: { max: 10_000, ttlMs: 30_000, staleMs: 300_000 },
  breaker: { failureThreshold: 5, windowMs: 10_000, openMs: 5_000, halfOpenProbes: 1 },
  retry: { retries: 1, delayMs: 10, budgetRatio: 0.1, budgetMinPerSec: 5 },
  batch: { maxSize: 100, windowMs: 1 },
  uidPattern: defaultUidPattern,
};

function defined<T extends object>(o: T | undefined): Partial<T> {
  if (!o) return {};
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function int(name: string, v: number, min: number): void {
  if (!Number.isInteger(v) || v < min) throw new RangeError(`${name} must be an integer >= ${min}`);
}

function ms(name: string, v: number): void {
  if (!Number.isFinite(v) || v < 0) throw new RangeError(`${name} must be a finite number >= 0`);
}

/** Checks a batch option set, used for the defaults and for each source's own. */
export function checkBatch(prefix: string, b: Required<BatchOptions>): void {
  int(`${prefix}maxSize`, b.maxSize, 1);
  ms(`${prefix}windowMs`, b.windowMs);
}

export function resolveOptions<S extends readonly AnyProfileSource[]>(options: ProfileAggregatorOptions<S>): ResolvedOptions {
  if (!options || !Array.isArray(options.sources) || options.sources.length === 0) {
    throw new TypeError('options.sources must be a non-empty array of profile sources');
  }
  const o: ResolvedOptions = {
    concurrency: options.concurrency ?? defaults.concurrency,
    sourceConcurrency: options.sourceConcurrency ?? defaults.sourceConcurrency,
    maxQueue: options.maxQueue ?? defaults.maxQueue,
    timeoutMs: options.timeoutMs ?? defaults.timeoutMs,
    cache: options.cache === false ? false : { ...defaults.cache, ...defined(options.cache) },
    breaker: { ...defaults.breaker, ...defined(options.breaker) },
    retry: { ...defaults.retry, ...defined(options.retry) },
    batch: { ...defaults.batch, ...defined(options.batch) },
    uidPattern: options.uidPattern ?? defaults.uidPattern,
  };
  int('concurrency', o.concurrency, 1);
  int('sourceConcurrency', o.sourceConcurrency, 1);
  int('maxQueue', o.maxQueue, 0);
  if (!(o.timeoutMs > 0 && Number.isFinite(o.timeoutMs))) throw new RangeError('timeoutMs must be a finite number > 0');
  if (o.cache) {
    int('cache.max', o.cache.max, 1);
    ms('cache.ttlMs', o.cache.ttlMs);
    ms('cache.staleMs', o.cache.staleMs);
  }
  int('breaker.failureThreshold', o.breaker.failureThreshold, 1);
  ms('breaker.windowMs', o.breaker.windowMs);
  ms('breaker.openMs', o.breaker.openMs);
  int('breaker.halfOpenProbes', o.breaker.halfOpenProbes, 1);
  int('retry.retries', o.retry.retries, 0);
  ms('retry.delayMs', o.retry.delayMs);
  ms('retry.budgetRatio', o.retry.budgetRatio);
  ms('retry.budgetMinPerSec', o.retry.budgetMinPerSec);
  checkBatch('batch.', o.batch);
  if (!(o.uidPattern instanceof RegExp)) throw new TypeError('uidPattern must be a RegExp');
  if (o.uidPattern.global || o.uidPattern.sticky) throw new TypeError('uidPattern must not have the g or y flag (test() would keep state)');

  const names = new Set<string>();
  for (const s of options.sources) {
    if (!s || typeof s.name !== 'string' || s.name.length === 0 || typeof s.fetch !== 'function') {
      throw new TypeError('every source needs a non-empty name and a fetch function');
    }
    if (names.has(s.name)) throw new TypeError(`duplicate source name "${s.name}"`);
    names.add(s.name);
    if (s.timeoutMs !== undefined && !(s.timeoutMs > 0 && Number.isFinite(s.timeoutMs))) {
      throw new RangeError(`source "${s.name}": timeoutMs must be a finite number > 0`);
    }
    if (s.ttlMs !== undefined) ms(`source "${s.name}": ttlMs`, s.ttlMs);
    if (s.staleMs !== undefined) ms(`source "${s.name}": staleMs`, s.staleMs);
    if (s.concurrency !== undefined) int(`source "${s.name}": concurrency`, s.concurrency, 1);
    if (s.batch !== undefined) {
      if (typeof s.fetchMany !== 'function') throw new TypeError(`source "${s.name}" sets batch options but has no fetchMany`);
      checkBatch(`source "${s.name}": batch.`, { ...o.batch, ...defined(s.batch) });
    }
    if (o.cache === false && (s.ttlMs !== undefined && s.ttlMs > 0)) {
      throw new TypeError(`source "${s.name}" sets ttlMs but the aggregator cache is off`);
    }
  }
  return o;
}

export function mergeBatch(base: Required<BatchOptions>, own: BatchOptions | undefined): Required<BatchOptions> {
  return { ...base, ...defined(own) };
}
