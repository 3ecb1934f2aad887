/**
 * Drives one saga record from wherever the log has it to a final (or repair-waiting) state.
 * Every step is logged before it starts and after it ends, so a crash at any instant leaves a
 * record that says which step may have had an effect; the idempotency key makes re-running that
 * step safe.
 */
import type { EventEmitter } from 'eventemitter3';
import { KefuError, isKefuError } from '@kefu/protocol';
import { runAttempts } from './attempts.js';
import type { SagaEvents, SagaOutcome } from './events.js';
import type { ResolvedStep, Saga } from './saga.js';
import type { SagaLog } from './saga-log.js';
import type { SagaErrorInfo, SagaRecord, StepRecord } from './types.js';
import type { ResolvedRetryPolicy } from './retry.js';

export interface RunnerDeps {
  log: SagaLog;
  events: EventEmitter<SagaEvents>;
  stop: AbortSignal;
  now: () => number;
}

export function toErrorInfo(err: unknown, step?: string): SagaErrorInfo {
  const e = err as { message?: unknown; code?: unknown } | null;
  const info: SagaErrorInfo = { message: typeof e?.message === 'string' ? e.message : String(err) };
  if (typeof e?.code === 'string') info.code = e.code;
  if (step !== undefined) info.step = step;
  return info;
}

export function outcomeOf(rec: SagaRecord): SagaOutcome {
  const o: SagaOutcome = { id: rec.id, saga: rec.saga, state: rec.state, results: resultsOf(rec) };
  if (rec.error !== undefined) o.error = rec.error;
  return o;
}

function resultsOf(rec: SagaRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of rec.steps) if (s.result !== undefined && (s.status === 'done' || s.status === 'compensating' || s.status === 'compensated' || s.status === 'compensation-failed')) out[s.name] = s.result;
  return out;
}

const closing = (): KefuError => new KefuError('KEFU_ERR_CLOSED', 'saga orchestrator closed while the saga ran; recover() resumes it');

/** Runs `rec` (already in the log) until it settles; rejects on close, conflict or store failure. */
export async function drive<I>(saga: Saga<I>, rec: SagaRecord, deps: RunnerDeps): Promise<SagaOutcome> {
  const base = { id: rec.id, saga: rec.saga };
  let cur = rec;
  const persist = async (quiet?: (err: unknown) => boolean): Promise<void> => {
    cur.updatedAt = deps.now();
    try {
      cur = await deps.log.update(cur);
    } catch (err) {
      if (quiet?.(err) === true) throw err;
      if (isKefuError(err, 'KEFU_ERR_SAGA_CONFLICT')) deps.events.emit('saga:conflict', base);
      else deps.events.emit('saga:error', { ...base, error: toErrorInfo(err) });
      throw err;
    }
  };
  const stepRec = (i: number): StepRecord => cur.steps[i]!;

  for (;;) {
    if (deps.stop.aborted) throw closing();
    if (cur.state === 'running') {
      const i = cur.steps.findIndex((s) => s.status !== 'done');
      if (i === -1) {
        cur.state = 'completed';
        delete cur.error;
        await persist();
        const o = outcomeOf(cur);
        deps.events.emit('saga:completed', o);
        return o;
      }
      const step = saga.steps[i]!;
      const pastPivot = saga.pivotIndex >= 0 && i > saga.pivotIndex;
      // Usually already logged as running by the write that finished the step before it.
      if (stepRec(i).status !== 'running') {
        stepRec(i).status = 'running';
        await persist();
      }
      const info = { ...base, step: step.name, index: i };
      const policy = pastPivot ? { ...step.retry, maxAttempts: Math.max(step.retry.maxAttempts, saga.forwardRetry.maxAttempts) } : step.retry;
      const out = await attempt(step, policy, step.timeoutMs, false, cur, deps, (a) => deps.events.emit('step:started', { ...info, attempt: a }));
      const sr = stepRec(i);
      sr.attempts += out.attempts;
      if (out.kind === 'stopped') throw closing();
      if (out.kind === 'ok') {
        sr.status = 'done';
        if (out.value !== undefined) sr.result = out.value;
        delete sr.error;
        // One write records this step's end and the next step's start (or the saga's end): the
        // log is still written before and after every step, at half the fsyncs.
        const next = cur.steps.findIndex((s) => s.status !== 'done');
        if (next === -1) {
          cur.state = 'completed';
          delete cur.error;
        } else {
          stepRec(next).status = 'running';
        }
        try {
          // The log refuses before writing anything, so only this step's result can be the cause.
          await persist(unloggable);
        } catch (err) {
          if (!unloggable(err)) throw err;
          // The effect happened but its result cannot be kept: retrying on restart would fail
          // the same way forever, so the step fails now. Before the pivot it is compensated
          // (logged as done, without its result); after it, the saga waits for a human.
          if (next !== -1) stepRec(next).status = 'pending';
          delete sr.result;
          const error = toErrorInfo(err, step.name);
          error.message = `step ${step.name} returned a result the log cannot keep: ${error.message}`;
          cur.error = error;
          sr.error = error;
          if (pastPivot) {
            sr.status = 'failed';
            cur.state = 'forward-failed';
          } else {
            cur.state = 'compensating';
          }
          await persist();
          deps.events.emit('step:failed', { ...info, error });
          if (pastPivot) {
            const o = outcomeOf(cur);
            deps.events.emit('saga:forward-failed', o);
            return o;
          }
          deps.events.emit('saga:compensating', { ...base, error });
          continue;
        }
        deps.events.emit('step:completed', { ...info, result: out.value });
        if (next === -1) {
          const o = outcomeOf(cur);
          deps.events.emit('saga:completed', o);
          return o;
        }
        continue;
      }
      const error = toErrorInfo(out.error, step.name);
      sr.status = 'failed';
      sr.error = error;
      cur.error = error;
      deps.events.emit('step:failed', { ...info, error });
      if (pastPivot) {
        cur.state = 'forward-failed';
        await persist();
        const o = outcomeOf(cur);
        deps.events.emit('saga:forward-failed', o);
        return o;
      }
      cur.state = 'compensating';
      await persist();
      deps.events.emit('saga:compensating', { ...base, error });
      continue;
    }
    if (cur.state === 'compensating') {
      const j = nextToCompensate(saga, cur);
      if (j === -1) {
        cur.state = 'compensated';
        await persist();
        const o = outcomeOf(cur);
        deps.events.emit('saga:compensated', o);
        return o;
      }
      const step = saga.steps[j]!;
      if (step.compensate === undefined) {
        // Nothing to undo; the next write carries this status.
        stepRec(j).status = 'compensated';
        deps.events.emit('step:compensated', { ...base, step: step.name, index: j, skipped: true });
        continue;
      }
      stepRec(j).status = 'compensating';
      await persist();
      const info = { ...base, step: step.name, index: j };
      deps.events.emit('step:compensating', info);
      const out = await attempt(step, step.compensationRetry, step.timeoutMs, true, cur, deps, () => undefined);
      const sr = stepRec(j);
      sr.compensationAttempts += out.attempts;
      if (out.kind === 'stopped') throw closing();
      if (out.kind === 'ok') {
        sr.status = 'compensated';
        await persist();
        deps.events.emit('step:compensated', info);
        continue;
      }
      const error = toErrorInfo(out.error, step.name);
      sr.status = 'compensation-failed';
      sr.error = error;
      cur.state = 'compensation-failed';
      cur.error = error;
      await persist();
      deps.events.emit('step:compensation-failed', { ...info, error });
      const o = outcomeOf(cur);
      deps.events.emit('saga:compensation-failed', o);
      return o;
    }
    // A final or repair-waiting state: nothing to drive.
    return outcomeOf(cur);
  }
}

/** A write the log refused for its content (too large, not JSON), before writing anything. */
function unloggable(err: unknown): boolean {
  return isKefuError(err, 'KEFU_ERR_PAYLOAD_TOO_LARGE') || isKefuError(err, 'KEFU_ERR_INVALID_ARGUMENT');
}

/**
 * The highest step whose effect may exist: done, half-compensated, or (on compensate-recovery
 * or compensateFailed) one whose action may have taken effect without telling us.
 */
function nextToCompensate<I>(saga: Saga<I>, rec: SagaRecord): number {
  for (let j = rec.steps.length - 1; j >= 0; j--) {
    const s = rec.steps[j]!;
    const def = saga.steps[j]!;
    if (s.status === 'done' || s.status === 'compensating' || s.status === 'compensation-failed' || s.status === 'running') return j;
    if (s.status === 'failed' && def.compensateFailed) return j;
  }
  return -1;
}

function attempt<I>(
  step: ResolvedStep<I>,
  policy: ResolvedRetryPolicy,
  timeoutMs: number,
  compensation: boolean,
  rec: SagaRecord,
  deps: RunnerDeps,
  onStart: (attempt: number) => void,
): ReturnType<typeof runAttempts> {
  const results = resultsOf(rec);
  const index = rec.steps.findIndex((s) => s.name === step.name);
  const ownResult = rec.steps[index]?.result;
  const label = `saga ${rec.id} step ${step.name}${compensation ? ' compensation' : ''}`;
  return runAttempts(
    (n, signal) => {
      onStart(n);
      const ctx = {
        sagaId: rec.id, saga: rec.saga, step: step.name, idempotencyKey: `${rec.id}:${step.name}`,
        attempt: n, signal, input: rec.input as I, results,
      };
      return compensation ? step.compensate!({ ...ctx, result: ownResult }) : step.action(ctx);
    },
    {
      policy, timeoutMs, stop: deps.stop, label,
      isRetryable: step.isRetryable,
      onRetry: (n, delayMs, err) => deps.events.emit('step:retrying', { id: rec.id, saga: rec.saga, step: step.name, index, attempt: n, delayMs, error: toErrorInfo(err, step.name), compensation }),
    },
  );
}
