/**
 * Shapes shared by the saga definition, the orchestrator and every SagaLog store. Records are
 * plain JSON so that any store (memory, LevelDB, Redis, a third party's SQL) can hold them.
 */

/** Where a saga stands. The last four are final; the two `-failed` ones need a human. */
export type SagaState =
  | 'running'
  | 'compensating'
  | 'completed'
  | 'compensated'
  | 'compensation-failed'
  | 'forward-failed'
  | 'resolved';

/** Every state, in a stable order (stores index by it). */
export const sagaStates: readonly SagaState[] = [
  'running', 'compensating', 'completed', 'compensated', 'compensation-failed', 'forward-failed', 'resolved',
];

/** States a restart must pick up again. */
export const openStates: readonly SagaState[] = ['running', 'compensating'];

/** States waiting for manual repair (retry or resolve). */
export const repairStates: readonly SagaState[] = ['compensation-failed', 'forward-failed'];

export type StepStatus =
  | 'pending'
  | 'running'
  | 'done'
  | 'failed'
  | 'compensating'
  | 'compensated'
  | 'compensation-failed';

/** A failure as it is kept in the log: serialisable, no stack. */
export interface SagaErrorInfo {
  message: string;
  /** The `code` of the error, when it had one (KefuError, Node system errors). */
  code?: string;
  /** The step whose failure this is. */
  step?: string;
}

export interface StepRecord {
  name: string;
  status: StepStatus;
  /** Attempts of the action so far (all runs, across restarts). */
  attempts: number;
  /** Attempts of the compensation so far. */
  compensationAttempts: number;
  /** What the action returned (JSON), once `done`. */
  result?: unknown;
  /** The last failure of the action or of the compensation. */
  error?: SagaErrorInfo;
}

/** One saga instance as the log holds it. */
export interface SagaRecord {
  id: string;
  /** Name of the definition that runs it. */
  saga: string;
  state: SagaState;
  /** The input passed to start (JSON). */
  input: unknown;
  steps: StepRecord[];
  /** The failure that started compensation, or that stopped the saga. */
  error?: SagaErrorInfo;
  /** Note left by whoever resolved the saga by hand. */
  resolution?: string;
  createdAt: number;
  updatedAt: number;
  /**
   * Optimistic-concurrency counter: the store bumps it on every write and refuses a write whose
   * version is not the stored one (KEFU_ERR_SAGA_CONFLICT). 0 before the record is created.
   */
  version: number;
}
