/** The orchestrator's typed events: one per transition, so a host can trace or relay each one. */
import type { SagaErrorInfo, SagaState } from './types.js';

export interface SagaEventInfo {
  id: string;
  /** Definition name. */
  saga: string;
}

export interface StepEventInfo extends SagaEventInfo {
  step: string;
  index: number;
}

/** How a saga ended (or stopped, for the two `-failed` states). */
export interface SagaOutcome {
  id: string;
  saga: string;
  state: SagaState;
  /** Results of the steps whose action finished, by step name. */
  results: Record<string, unknown>;
  /** The failure that made it compensate or stop. */
  error?: SagaErrorInfo;
}

export interface SagaEvents {
  /** A new saga was logged and starts its first step. */
  'saga:started': (e: SagaEventInfo) => void;
  /** recover() or retry() picked up a saga in `state`. */
  'saga:resumed': (e: SagaEventInfo & { state: SagaState }) => void;
  /** An action attempt starts (attempt counts from 1 in this run). */
  'step:started': (e: StepEventInfo & { attempt: number }) => void;
  /** An attempt of an action or compensation failed and will be retried after `delayMs`. */
  'step:retrying': (e: StepEventInfo & { attempt: number; delayMs: number; error: SagaErrorInfo; compensation: boolean }) => void;
  /** The action finished and its result is logged. */
  'step:completed': (e: StepEventInfo & { result: unknown }) => void;
  /** The action failed for good (non-retryable, out of attempts, or timed out on its last attempt). */
  'step:failed': (e: StepEventInfo & { error: SagaErrorInfo }) => void;
  /** The compensation starts. */
  'step:compensating': (e: StepEventInfo) => void;
  /** The compensation finished; `skipped` when the step has no compensation (nothing to undo). */
  'step:compensated': (e: StepEventInfo & { skipped?: true }) => void;
  /** The compensation failed for good. */
  'step:compensation-failed': (e: StepEventInfo & { error: SagaErrorInfo }) => void;
  /** A step before the pivot failed: the done steps are undone in reverse order. */
  'saga:compensating': (e: SagaEventInfo & { error: SagaErrorInfo }) => void;
  'saga:completed': (e: SagaOutcome) => void;
  'saga:compensated': (e: SagaOutcome) => void;
  /** A compensation failed for good: the saga waits for retry() or resolve(). Never dropped. */
  'saga:compensation-failed': (e: SagaOutcome) => void;
  /** A step after the pivot failed for good: the saga waits for retry() or resolve(). */
  'saga:forward-failed': (e: SagaOutcome) => void;
  /** Someone marked a failed saga as repaired by hand. */
  'saga:resolved': (e: SagaEventInfo & { note: string }) => void;
  /** Another runner wrote the record first (KEFU_ERR_SAGA_CONFLICT): this one stopped driving it. */
  'saga:conflict': (e: SagaEventInfo) => void;
  /** A log write failed while driving the saga; it stays where the log last has it. */
  'saga:error': (e: SagaEventInfo & { error: SagaErrorInfo }) => void;
}
