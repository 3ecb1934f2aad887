/**
 * A saga definition: ordered steps, each an action and an optional compensation, validated once
 * at construction so that a bad definition fails at boot, not in the middle of a refund.
 */
import { KefuError } from '@kefu/protocol';
import { DEFAULT_ACTION_RETRY, DEFAULT_COMPENSATION_RETRY, defaultIsRetryable, type ResolvedRetryPolicy, type RetryPolicy } from './retry.js';

/** What every action and compensation receives. */
export interface StepContext<I = unknown> {
  sagaId: string;
  /** Definition name. */
  saga: string;
  step: string;
  /**
   * `<sagaId>:<step>`: the same for every attempt of the action and of its compensation, across
   * restarts. Send it as an Idempotency-Key so that the back end applies the effect once.
   */
  idempotencyKey: string;
  /** 1 for the first attempt of this run. */
  attempt: number;
  /** Aborted when the attempt times out or the orchestrator closes: pass it to fetch. */
  signal: AbortSignal;
  input: I;
  /** Results of the steps done so far, by step name. */
  results: Readonly<Record<string, unknown>>;
}

export interface CompensationContext<I = unknown> extends StepContext<I> {
  /** What this step's action returned; undefined when the action never finished. */
  result: unknown;
}

export interface SagaStep<I = unknown> {
  /** Unique within the saga; part of the idempotency key, so without ':'. */
  name: string;
  /** Does the work. Its return value (JSON) is logged and handed to later steps. */
  action: (ctx: StepContext<I>) => unknown;
  /** Undoes the work; called with the same idempotency key. Steps without one are skipped. */
  compensate?: (ctx: CompensationContext<I>) => unknown;
  /**
   * The point of no return: once this step is done the saga only moves forward, and later
   * failures leave it `forward-failed` (for a human) instead of compensating. At most one.
   * @defaultValue false
   */
  pivot?: boolean;
  /**
   * Limit of one attempt, in ms; the step's signal aborts then.
   * @defaultValue the saga's `timeoutMs` (10000)
   */
  timeoutMs?: number;
  /** @defaultValue the saga's `retry` */
  retry?: RetryPolicy;
  /** @defaultValue the saga's `compensationRetry` */
  compensationRetry?: RetryPolicy;
  /**
   * Also compensate this step when its own action failed, for actions whose failure can hide an
   * effect (a timeout after the back end applied it). Its compensation must then accept "nothing
   * to undo".
   * @defaultValue false
   */
  compensateFailed?: boolean;
  /**
   * Whether an error is worth another attempt.
   * @defaultValue false for NonRetryableError and errors with `retryable: false`, true otherwise
   */
  isRetryable?: (err: unknown) => boolean;
}

export interface SagaDefinition<I = unknown> {
  /** Unique per orchestrator; stored in each record to find the definition after a restart. */
  name: string;
  steps: ReadonlyArray<SagaStep<I>>;
  /**
   * Default limit of one attempt, in ms.
   * @defaultValue 10000
   */
  timeoutMs?: number;
  /** @defaultValue `{ maxAttempts: 3, initialDelayMs: 100, maxDelayMs: 5000, factor: 2, jitter: true }` */
  retry?: RetryPolicy;
  /**
   * Steps after the pivot retry with this policy, since they cannot be compensated.
   * @defaultValue `{ ...retry, maxAttempts: 10 }`
   */
  forwardRetry?: RetryPolicy;
  /** @defaultValue `{ ...retry, maxAttempts: 5 }` */
  compensationRetry?: RetryPolicy;
  /**
   * What `recover()` does with a saga interrupted before its pivot: run on from the interrupted
   * step ('resume'), or undo what was done ('compensate'). After the pivot it always resumes.
   * @defaultValue 'resume'
   */
  recovery?: 'resume' | 'compensate';
}

/** A step with every default applied. */
export interface ResolvedStep<I = unknown> {
  name: string;
  action: (ctx: StepContext<I>) => unknown;
  compensate: ((ctx: CompensationContext<I>) => unknown) | undefined;
  pivot: boolean;
  timeoutMs: number;
  retry: ResolvedRetryPolicy;
  compensationRetry: ResolvedRetryPolicy;
  compensateFailed: boolean;
  isRetryable: (err: unknown) => boolean;
}

/** Most steps in one saga: each record holds all of them. */
export const MAX_SAGA_STEPS = 64;
const MAX_NAME_LENGTH = 100;
const MAX_TIMEOUT_MS = 2_147_483_647;

export class Saga<I = unknown> {
  readonly name: string;
  readonly steps: ReadonlyArray<ResolvedStep<I>>;
  /** Index of the pivot step, or -1. */
  readonly pivotIndex: number;
  readonly recovery: 'resume' | 'compensate';
  readonly forwardRetry: ResolvedRetryPolicy;

  constructor(definition: SagaDefinition<I>) {
    if (typeof definition !== 'object' || definition === null) throw invalid('saga definition must be an object');
    checkName(definition.name, 'saga name');
    const d = definition;
    const where = `saga ${d.name}`;
    if (!Array.isArray(d.steps) || d.steps.length === 0) throw invalid(`${where}: steps must be a non-empty array`);
    if (d.steps.length > MAX_SAGA_STEPS) throw invalid(`${where}: at most ${MAX_SAGA_STEPS} steps`);
    if (d.recovery !== undefined && d.recovery !== 'resume' && d.recovery !== 'compensate') {
      throw invalid(`${where}: recovery must be 'resume' or 'compensate'`);
    }
    const timeoutMs = checkTimeout(d.timeoutMs ?? 10_000, `${where}: timeoutMs`);
    const retry = resolvePolicy(DEFAULT_ACTION_RETRY, d.retry, `${where}: retry`);
    const compensationRetry = resolvePolicy({ ...retry, maxAttempts: DEFAULT_COMPENSATION_RETRY.maxAttempts }, d.compensationRetry, `${where}: compensationRetry`);
    this.forwardRetry = resolvePolicy({ ...retry, maxAttempts: 10 }, d.forwardRetry, `${where}: forwardRetry`);

    const seen = new Set<string>();
    let pivotIndex = -1;
    this.steps = d.steps.map((s, i): ResolvedStep<I> => {
      if (typeof s !== 'object' || s === null) throw invalid(`${where}: step ${i} must be an object`);
      checkName(s.name, `${where}: step ${i} name`);
      // With ':' in step names, saga "a:b" step "c" and saga "a" step "b:c" would share a key.
      if (s.name.includes(':')) throw invalid(`${where}: step ${i} name must not contain ':' (it separates saga id and step in idempotency keys)`);
      const at = `${where}: step ${s.name}`;
      if (seen.has(s.name)) throw invalid(`${where}: duplicate step name ${s.name}`);
      seen.add(s.name);
      if (typeof s.action !== 'function') throw invalid(`${at}: action must be a function`);
      if (s.compensate !== undefined && typeof s.compensate !== 'function') throw invalid(`${at}: compensate must be a function`);
      if (s.isRetryable !== undefined && typeof s.isRetryable !== 'function') throw invalid(`${at}: isRetryable must be a function`);
      if (s.compensateFailed === true && s.compensate === undefined) throw invalid(`${at}: compensateFailed needs a compensate function`);
      if (s.pivot === true) {
        if (pivotIndex >= 0) throw invalid(`${where}: only one step may be the pivot`);
        pivotIndex = i;
      }
      return {
        name: s.name,
        action: s.action,
        compensate: s.compensate,
        pivot: s.pivot === true,
        timeoutMs: s.timeoutMs === undefined ? timeoutMs : checkTimeout(s.timeoutMs, `${at}: timeoutMs`),
        retry: resolvePolicy(retry, s.retry, `${at}: retry`),
        compensationRetry: resolvePolicy(compensationRetry, s.compensationRetry, `${at}: compensationRetry`),
        compensateFailed: s.compensateFailed === true,
        isRetryable: s.isRetryable ?? defaultIsRetryable,
      };
    });
    this.name = d.name;
    this.pivotIndex = pivotIndex;
    this.recovery = d.recovery ?? 'resume';
  }
}

function invalid(message: string): KefuError {
  return new KefuError('KEFU_ERR_SAGA_INVALID_DEFINITION', message);
}

function checkName(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_NAME_LENGTH) {
    throw invalid(`${what} must be a string of 1 to ${MAX_NAME_LENGTH} characters`);
  }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw invalid(`${what} must not contain control characters`);
}

function checkTimeout(ms: unknown, what: string): number {
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_TIMEOUT_MS) {
    throw invalid(`${what} must be an integer from 1 to ${MAX_TIMEOUT_MS}`);
  }
  return ms;
}

function resolvePolicy(base: ResolvedRetryPolicy, p: RetryPolicy | undefined, what: string): ResolvedRetryPolicy {
  if (p === undefined) return base;
  if (typeof p !== 'object' || p === null) throw invalid(`${what} must be an object`);
  const r = { ...base, ...p };
  if (!(r.maxAttempts === Infinity || (Number.isInteger(r.maxAttempts) && r.maxAttempts >= 1))) {
    throw invalid(`${what}.maxAttempts must be a positive integer or Infinity`);
  }
  if (!Number.isFinite(r.initialDelayMs) || r.initialDelayMs < 0) throw invalid(`${what}.initialDelayMs must be a non-negative number`);
  if (!Number.isFinite(r.maxDelayMs) || r.maxDelayMs < r.initialDelayMs || r.maxDelayMs > MAX_TIMEOUT_MS) {
    throw invalid(`${what}.maxDelayMs must be a number from initialDelayMs to ${MAX_TIMEOUT_MS}`);
  }
  if (!Number.isFinite(r.factor) || r.factor < 1) throw invalid(`${what}.factor must be a number >= 1`);
  if (typeof r.jitter !== 'boolean') throw invalid(`${what}.jitter must be a boolean`);
  return r;
}
