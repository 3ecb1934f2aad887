/**
 * The shapes shared by the profile aggregator's parts: what a source is, and what a caller gets.
 */
import type { KefuError } from '@kefu/protocol';

/** Passed to every source call. Abort means the aggregator gave up: release the work at once. */
export interface FetchContext {
  signal: AbortSignal;
}

/** What `fetchMany` may answer: a value per uid; missing or null means no record, an Error fails that uid only. */
export type BatchAnswer<T> = ReadonlyMap<string, T | null | Error> | Readonly<Record<string, T | null | Error>>;

/** Batching of a source's `fetchMany` (DataLoader-style). */
export interface BatchOptions {
  /** Most uids in one `fetchMany` call. @defaultValue 100 */
  maxSize?: number;
  /**
   * Pacing, in ms: a source sends at most one batch per `windowMs`. A lookup that finds no batch
   * sent within the last `windowMs` goes out in the current event-loop turn (no added wait);
   * otherwise it joins the batch leaving `windowMs` after the last one, so no lookup waits longer
   * than `windowMs`; a batch that reaches `maxSize` leaves at once. 0 sends every event-loop
   * turn's lookups together. @defaultValue 1
   */
  windowMs?: number;
}

/**
 * One system holding part of a profile. Implement `fetch` (and `fetchMany` if the system has a
 * batch endpoint); everything else is optional and overrides the aggregator's defaults.
 */
export interface ProfileSource<N extends string = string, T = unknown> {
  /** Key of this source's data in the profile. Unique per aggregator. */
  readonly name: N;
  /** One uid. Resolve null when the system has no record; reject on failure; honour the signal. */
  fetch(uid: string, ctx: FetchContext): Promise<T | null>;
  /** Many uids in one call, when the system offers it; the aggregator then batches lookups. */
  fetchMany?(uids: readonly string[], ctx: FetchContext): Promise<BatchAnswer<T>>;
  /** Per-call time limit, in ms (queueing for a concurrency slot included). */
  readonly timeoutMs?: number;
  /** When true, a failure of this source (with no stale value or fallback) fails the whole profile. */
  readonly required?: boolean;
  /** How long a fetched value is served from cache without asking again, in ms (0: no cache). */
  readonly ttlMs?: number;
  /** How long after `ttlMs` a value may still be served while it is refreshed in the background, in ms. */
  readonly staleMs?: number;
  /** Safe to call twice: failed calls are retried (within the retry budget). */
  readonly idempotent?: boolean;
  /** Most calls in flight to this source. */
  readonly concurrency?: number;
  /** Batching of `fetchMany`; ignored without it. */
  readonly batch?: BatchOptions;
  /** A value to show when the source fails (for example a default membership level). */
  fallback?(uid: string, error: KefuError): T | null | undefined;
  /** Releases connections; called by `ProfileAggregator.close()`. */
  close?(): void | Promise<void>;
}

/**
 * How a source's part of one profile came to be:
 * - `ok`: fetched now
 * - `cached`: served from cache within its TTL
 * - `stale`: served from cache past its TTL (within the stale window) while a refresh runs
 * - `timeout`: the call did not answer in time and was aborted
 * - `error`: the call failed (HTTP error, connection refused, bad or huge body, wrong shape, queue full)
 * - `circuit-open`: the source's breaker is open; it was not called
 */
export type SourceStatus = 'ok' | 'cached' | 'stale' | 'timeout' | 'error' | 'circuit-open';

export interface SourceReport {
  status: SourceStatus;
  /** Time this request waited for this source, in ms (0 when served from cache). */
  ms: number;
  /** Age of a cached or stale value, in ms. */
  ageMs?: number;
  /** Why the source failed (timeout, error, circuit-open). */
  error?: KefuError;
  /** True when the data shown is the source's fallback value. */
  fallback?: boolean;
}

/** Any source, whatever its name and value type. */
export type AnyProfileSource = ProfileSource<string, unknown>;

/** The value type of a source. */
export type SourceValue<P> = P extends ProfileSource<string, infer T> ? T : never;

/** The merged data: one key per source; absent when the source failed with no fallback, null when it has no record. */
export type ProfileData<S extends readonly AnyProfileSource[]> = {
  [P in S[number] as P['name']]?: SourceValue<P> | null;
};

/** What `ProfileAggregator.get` resolves. */
export interface Profile<S extends readonly AnyProfileSource[]> {
  uid: string;
  data: ProfileData<S>;
  sources: { [P in S[number] as P['name']]: SourceReport };
  /** True when every source answered now or from a fresh cache entry. */
  complete: boolean;
}

/** Counters of one source since the aggregator started. */
export interface SourceCounters {
  /** Calls made to the source (`fetch` or `fetchMany`), retries included. */
  calls: number;
  /** Uids asked of the source (a batch call of 10 uids counts 10). */
  lookups: number;
  /** Lookups answered by a successful call. */
  ok: number;
  /** Lookups that failed with an error. */
  errors: number;
  /** Lookups that timed out. */
  timeouts: number;
  /** Lookups refused by an open breaker. */
  circuitOpen: number;
  /** Served from a fresh cache entry. */
  cacheHits: number;
  /** Served stale while refreshed. */
  staleHits: number;
  /** Requests that joined a lookup already in flight for the same uid. */
  coalesced: number;
  /** Retries made. */
  retries: number;
  /** `fetchMany` calls made. */
  batches: number;
  /** Failures covered by the fallback value. */
  fallbacks: number;
  /** Calls in flight now. */
  active: number;
  /** Calls waiting for a concurrency slot now. */
  queued: number;
  /** Breaker state now. */
  breaker: BreakerState;
}

export type BreakerState = 'closed' | 'open' | 'half-open';
