/**
 * Runs one action or compensation: attempts with a timeout each, backoff between them, and an
 * early stop when the orchestrator closes. A step that ignores its AbortSignal is still cut off
 * at its timeout; its late result is dropped (the idempotency key covers a late effect).
 */
import { KefuError } from '@kefu/protocol';
import { backoffDelay, type ResolvedRetryPolicy } from './retry.js';

export type AttemptOutcome =
  | { kind: 'ok'; value: unknown; attempts: number }
  | { kind: 'failed'; error: unknown; attempts: number }
  /** The orchestrator closed: the outcome of the last attempt is unknown. */
  | { kind: 'stopped'; attempts: number };

export interface AttemptOptions {
  policy: ResolvedRetryPolicy;
  timeoutMs: number;
  isRetryable: (err: unknown) => boolean;
  /** Aborted by the orchestrator's close(). */
  stop: AbortSignal;
  /** Called before each backoff wait. */
  onRetry: (attempt: number, delayMs: number, error: unknown) => void;
  /** Label for timeout messages. */
  label: string;
}

const STOPPED = Symbol('stopped');

export async function runAttempts(fn: (attempt: number, signal: AbortSignal) => unknown, o: AttemptOptions): Promise<AttemptOutcome> {
  for (let attempt = 1; ; attempt++) {
    try {
      const value = await attemptOnce(fn, attempt, o);
      return { kind: 'ok', value, attempts: attempt };
    } catch (err) {
      if (err === STOPPED) return { kind: 'stopped', attempts: attempt };
      let retryable: boolean;
      try {
        retryable = o.isRetryable(err);
      } catch {
        retryable = false;
      }
      if (!retryable || attempt >= o.policy.maxAttempts) return { kind: 'failed', error: err, attempts: attempt };
      const delay = backoffDelay(o.policy, attempt);
      o.onRetry(attempt, delay, err);
      if (!(await sleep(delay, o.stop))) return { kind: 'stopped', attempts: attempt };
    }
  }
}

function attemptOnce(fn: (attempt: number, signal: AbortSignal) => unknown, attempt: number, o: AttemptOptions): Promise<unknown> {
  if (o.stop.aborted) return Promise.reject(STOPPED);
  const ac = new AbortController();
  return new Promise<unknown>((resolve, reject) => {
    let settled = false;
    const finish = (settle: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      o.stop.removeEventListener('abort', onStop);
      settle();
    };
    const timer = setTimeout(() => {
      const e = new KefuError('KEFU_ERR_SAGA_STEP_TIMEOUT', `${o.label} did not finish within ${o.timeoutMs} ms`, { details: { timeoutMs: o.timeoutMs, attempt } });
      ac.abort(e);
      finish(() => reject(e));
    }, o.timeoutMs);
    const onStop = (): void => {
      ac.abort(new KefuError('KEFU_ERR_CLOSED', 'saga orchestrator is closing'));
      finish(() => reject(STOPPED));
    };
    o.stop.addEventListener('abort', onStop, { once: true });
    Promise.resolve()
      .then(() => fn(attempt, ac.signal))
      .then((v) => finish(() => resolve(v)), (e: unknown) => finish(() => reject(e)));
  });
}

/** Resolves true after `ms`, or false as soon as `stop` aborts. */
function sleep(ms: number, stop: AbortSignal): Promise<boolean> {
  if (stop.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const onStop = (): void => {
      clearTimeout(t);
      resolve(false);
    };
    const t = setTimeout(() => {
      stop.removeEventListener('abort', onStop);
      resolve(true);
    }, ms);
    stop.addEventListener('abort', onStop, { once: true });
  });
}
