/**
 * Retry policy, backoff and the error that opts out of retries. Transient failures (timeouts,
 * connection resets, 5xx) are worth another attempt; a refusal ("order already refunded",
 * validation errors) is not, and retrying it only delays the compensation.
 */

export interface RetryPolicy {
  /**
   * Attempts in all, the first included. `Infinity` retries until success or a non-retryable error.
   * @defaultValue 3 (actions), 5 (compensations)
   */
  maxAttempts?: number;
  /**
   * Delay before the second attempt, in ms.
   * @defaultValue 100
   */
  initialDelayMs?: number;
  /**
   * Longest delay between attempts, in ms.
   * @defaultValue 5000
   */
  maxDelayMs?: number;
  /**
   * Growth of the delay per attempt.
   * @defaultValue 2
   */
  factor?: number;
  /**
   * Randomise each delay within [delay/2, delay], so that sagas failing together do not retry in
   * lock-step against a recovering back end.
   * @defaultValue true
   */
  jitter?: boolean;
}

export type ResolvedRetryPolicy = Required<RetryPolicy>;

export const DEFAULT_ACTION_RETRY: ResolvedRetryPolicy = { maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 5_000, factor: 2, jitter: true };
export const DEFAULT_COMPENSATION_RETRY: ResolvedRetryPolicy = { ...DEFAULT_ACTION_RETRY, maxAttempts: 5 };

/**
 * Throw (or reject with) this from a step to stop retrying at once. The original error can ride
 * along as `cause`. Any error with `retryable: false` is treated the same way.
 */
export class NonRetryableError extends Error {
  readonly retryable = false as const;
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'NonRetryableError';
  }
}

/** The default classifier: everything is transient unless it says otherwise. */
export function defaultIsRetryable(err: unknown): boolean {
  if (err instanceof NonRetryableError) return false;
  return !(typeof err === 'object' && err !== null && (err as { retryable?: unknown }).retryable === false);
}

/** Delay before attempt `attempt + 1`, after `attempt` failures (attempt >= 1). */
export function backoffDelay(policy: ResolvedRetryPolicy, attempt: number, random: () => number = Math.random): number {
  const base = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.factor ** (attempt - 1));
  if (!policy.jitter) return base;
  return base / 2 + random() * (base / 2);
}
