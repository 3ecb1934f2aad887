/**
 * ProfileAggregator's typed events (eventemitter3). Cache hits emit nothing, to keep that path cheap;
 * they are counted in `stats()`.
 */
import type { KefuError } from '@kefu/protocol';
import type { BreakerState } from './types.js';

export interface FetchEvent {
  source: string;
  /** Uids the call carried (1 for `fetch`, the batch size for `fetchMany`). */
  uids: number;
  status: 'ok' | 'timeout' | 'error';
  /** From the call's start (queueing included) to its end, in ms. */
  ms: number;
  error?: KefuError;
}

export interface ProfileAggregatorEvents {
  /** A source call finished (a batch call emits once). */
  fetch: [event: FetchEvent];
  /** A failed call of an idempotent source is retried (`attempt` is 1 for the first retry). */
  retry: [event: { source: string; attempt: number; error: KefuError }];
  /** A source's circuit breaker changed state. */
  circuit: [event: { source: string; from: BreakerState; to: BreakerState }];
}
