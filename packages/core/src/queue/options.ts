/** PriorityQueue options, their defaults and the checks on impossible values. */
import type { QueueStore } from './queue-store.js';

/** Lowest and highest priority a push may carry (integers; higher is served first). */
export const MIN_PRIORITY = -1_000_000;
export const MAX_PRIORITY = 1_000_000;
/** Longest id, in characters (printable ASCII). */
export const MAX_ID_LENGTH = 255;
/** Highest maxAttempts (attempts are kept in 16 bits). */
export const MAX_ATTEMPTS_LIMIT = 65_535;

export interface BackoffOptions {
  /**
   * Delay before the first retry, in ms; each later retry doubles it.
   * @defaultValue 1000
   */
  baseMs?: number;
  /**
   * Longest delay between retries, in ms.
   * @defaultValue 300000
   */
  maxMs?: number;
  /**
   * Fraction of the delay that is random (0: none, 1: anywhere between 0 and the delay), so
   * retries of items that failed together do not come back together.
   * @defaultValue 0.5
   */
  jitter?: number;
}

export interface PriorityQueueOptions<T> {
  /**
   * Where items live: a store instance, or a factory called once.
   * @defaultValue a new MemoryQueueStore
   */
  store?: QueueStore<T> | (() => QueueStore<T>);
  /**
   * Aging, in priority points per second of waiting: an item's effective priority is
   * `priority + waitedSeconds * agingRate`, so low priority is never starved. 0 disables aging.
   * Keep it constant for a durable store: it is applied at push time (see docs/queue.md).
   * @defaultValue 1/60 (one priority point per minute of waiting)
   */
  agingRate?: number;
  /**
   * Priority of a push that names none.
   * @defaultValue 0
   */
  defaultPriority?: number;
  /**
   * Lease visibility: an item not acked within this time returns to the queue.
   * @defaultValue 30000
   */
  visibilityMs?: number;
  /**
   * Leases per item before it goes to dead-letter (a push may override it).
   * @defaultValue 5
   */
  maxAttempts?: number;
  /** Retry delay after a nack without an explicit delay. */
  backoff?: BackoffOptions;
  /**
   * Largest payload, in bytes of its JSON text (or of the string / bytes themselves).
   * @defaultValue 262144
   */
  maxPayloadBytes?: number;
  /**
   * Most items one lease() call may take.
   * @defaultValue 1000
   */
  maxLeaseBatch?: number;
}

export interface ResolvedOptions {
  agingRate: number;
  defaultPriority: number;
  visibilityMs: number;
  maxAttempts: number;
  backoff: Required<BackoffOptions>;
  maxPayloadBytes: number;
  maxLeaseBatch: number;
}

const DEFAULTS: ResolvedOptions = {
  agingRate: 1 / 60,
  defaultPriority: 0,
  visibilityMs: 30_000,
  maxAttempts: 5,
  backoff: { baseMs: 1000, maxMs: 300_000, jitter: 0.5 },
  maxPayloadBytes: 262_144,
  maxLeaseBatch: 1000,
};

/** Merges defaults and throws TypeError / RangeError on impossible values. */
export function resolveOptions<T>(options: PriorityQueueOptions<T>): ResolvedOptions {
  if (typeof options !== 'object' || options === null) throw new TypeError('options must be an object');
  const { store: _store, backoff, ...rest } = options;
  const o: ResolvedOptions = { ...DEFAULTS, ...stripUndefined(rest), backoff: { ...DEFAULTS.backoff, ...stripUndefined(backoff ?? {}) } };
  if (typeof o.agingRate !== 'number' || !Number.isFinite(o.agingRate) || o.agingRate < 0) throw new RangeError('agingRate must be a finite number >= 0');
  if (!isPriority(o.defaultPriority)) throw new RangeError(`defaultPriority must be an integer from ${MIN_PRIORITY} to ${MAX_PRIORITY}`);
  if (!positiveInt(o.visibilityMs)) throw new RangeError('visibilityMs must be a positive integer');
  if (!positiveInt(o.maxAttempts) || o.maxAttempts > MAX_ATTEMPTS_LIMIT) throw new RangeError(`maxAttempts must be an integer from 1 to ${MAX_ATTEMPTS_LIMIT}`);
  if (!positiveInt(o.maxPayloadBytes)) throw new RangeError('maxPayloadBytes must be a positive integer');
  if (!positiveInt(o.maxLeaseBatch)) throw new RangeError('maxLeaseBatch must be a positive integer');
  const b = o.backoff;
  if (!nonNegativeInt(b.baseMs) || !nonNegativeInt(b.maxMs)) throw new RangeError('backoff.baseMs and backoff.maxMs must be integers >= 0');
  if (b.baseMs > b.maxMs) throw new RangeError('backoff.baseMs must not exceed backoff.maxMs');
  if (typeof b.jitter !== 'number' || !(b.jitter >= 0 && b.jitter <= 1)) throw new RangeError('backoff.jitter must be between 0 and 1');
  return o;
}

export function isPriority(p: unknown): p is number {
  return Number.isInteger(p) && (p as number) >= MIN_PRIORITY && (p as number) <= MAX_PRIORITY;
}

/** Printable ASCII, 1..255 characters: ids are stored one byte per character. */
export function isValidId(id: unknown): id is string {
  return typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH && /^[\x20-\x7e]+$/.test(id);
}

/** Exponential backoff with jitter for the retry after `attempt` (1-based). */
export function backoffDelay(b: Required<BackoffOptions>, attempt: number, random: () => number = Math.random): number {
  const full = Math.min(b.maxMs, b.baseMs * 2 ** Math.min(attempt - 1, 52));
  return Math.round(full * (1 - b.jitter * random()));
}

function positiveInt(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 1;
}

function nonNegativeInt(n: unknown): n is number {
  return Number.isInteger(n) && (n as number) >= 0;
}

function stripUndefined<O extends object>(o: O): Partial<O> {
  const out: Partial<O> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
