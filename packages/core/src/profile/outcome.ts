/**
 * The result of looking up one uid at one source, and the mapping from thrown things to coded errors.
 */
import { KefuError, isKefuError } from '@kefu/protocol';

export type Outcome =
  | { ok: true; value: unknown }
  | { ok: false; status: 'timeout' | 'error' | 'circuit-open'; error: KefuError };

export function timeoutError(source: string, timeoutMs: number): KefuError {
  return new KefuError('KEFU_ERR_PROFILE_SOURCE_TIMEOUT', `profile source "${source}" did not answer within ${timeoutMs} ms`, {
    details: { source, timeoutMs },
  });
}

export function circuitOpenError(source: string): KefuError {
  return new KefuError('KEFU_ERR_PROFILE_CIRCUIT_OPEN', `profile source "${source}" is failing; its circuit breaker is open`, {
    details: { source },
  });
}

/** Any thrown value as a KefuError naming the source. */
export function toKefuError(source: string, err: unknown): KefuError {
  if (isKefuError(err)) return err as KefuError;
  const message = err instanceof Error ? err.message : String(err);
  return new KefuError('KEFU_ERR_PROFILE_SOURCE_FAILED', `profile source "${source}" failed: ${message}`, {
    cause: err,
    details: { source },
  });
}

/** A KefuError is retried unless its details say `retryable: false` (4xx answers, bad bodies). */
export function isRetryable(err: KefuError): boolean {
  return err.code === 'KEFU_ERR_PROFILE_SOURCE_FAILED' && err.details?.retryable !== false;
}
