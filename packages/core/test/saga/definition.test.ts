import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isKefuError } from '@kefu/protocol';
import { Saga, MAX_SAGA_STEPS, type SagaDefinition } from '../../src/saga/saga.js';
import { backoffDelay, defaultIsRetryable, NonRetryableError, DEFAULT_ACTION_RETRY } from '../../src/saga/retry.js';
import { SagaOrchestrator } from '../../src/saga/orchestrator.js';

const noop = (): undefined => undefined;

function invalid(def: unknown, message: string): void {
  assert.throws(() => new Saga(def as SagaDefinition), (err: unknown) => {
    assert.ok(isKefuError(err, 'KEFU_ERR_SAGA_INVALID_DEFINITION'), String(err));
    assert.equal((err as Error).message, message);
    return true;
  });
}

describe('Saga definitions', () => {
  test('bad definitions throw KEFU_ERR_SAGA_INVALID_DEFINITION with exact messages', () => {
    invalid(null, 'saga definition must be an object');
    invalid({ name: '', steps: [] }, 'saga name must be a string of 1 to 100 characters');
    invalid({ name: 'a\tb', steps: [] }, 'saga name must not contain control characters');
    invalid({ name: 's', steps: [] }, 'saga s: steps must be a non-empty array');
    invalid({ name: 's', steps: Array.from({ length: MAX_SAGA_STEPS + 1 }, (_, i) => ({ name: `n${i}`, action: noop })) }, 'saga s: at most 64 steps');
    invalid({ name: 's', steps: [{ name: 'a', action: noop }, { name: 'a', action: noop }] }, 'saga s: duplicate step name a');
    invalid({ name: 's', steps: [{ name: 'a' }] }, 'saga s: step a: action must be a function');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, compensate: 1 }] }, 'saga s: step a: compensate must be a function');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, compensateFailed: true }] }, 'saga s: step a: compensateFailed needs a compensate function');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, pivot: true }, { name: 'b', action: noop, pivot: true }] }, 'saga s: only one step may be the pivot');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, timeoutMs: 0 }] }, 'saga s: step a: timeoutMs must be an integer from 1 to 2147483647');
    invalid({ name: 's', timeoutMs: 1.5, steps: [{ name: 'a', action: noop }] }, 'saga s: timeoutMs must be an integer from 1 to 2147483647');
    invalid({ name: 's', retry: { maxAttempts: 0 }, steps: [{ name: 'a', action: noop }] }, 'saga s: retry.maxAttempts must be a positive integer or Infinity');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, retry: { initialDelayMs: 10, maxDelayMs: 5 } }] }, 'saga s: step a: retry.maxDelayMs must be a number from initialDelayMs to 2147483647');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, compensationRetry: { factor: 0.5 } }] }, 'saga s: step a: compensationRetry.factor must be a number >= 1');
    invalid({ name: 's', recovery: 'maybe', steps: [{ name: 'a', action: noop }] }, "saga s: recovery must be 'resume' or 'compensate'");
    invalid({ name: 's', steps: [null] }, 'saga s: step 0 must be an object');
    invalid({ name: 'n'.repeat(101), steps: [] }, 'saga name must be a string of 1 to 100 characters');
    invalid({ name: 's', steps: [{ name: 'b:c', action: noop }] }, "saga s: step 0 name must not contain ':' (it separates saga id and step in idempotency keys)");
    invalid({ name: 's', steps: 'a' }, 'saga s: steps must be a non-empty array');
    invalid({ name: 's', steps: [{ name: 7, action: noop }] }, 'saga s: step 0 name must be a string of 1 to 100 characters');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, isRetryable: true }] }, 'saga s: step a: isRetryable must be a function');
    invalid({ name: 's', retry: 3, steps: [{ name: 'a', action: noop }] }, 'saga s: retry must be an object');
    invalid({ name: 's', retry: { initialDelayMs: -1 }, steps: [{ name: 'a', action: noop }] }, 'saga s: retry.initialDelayMs must be a non-negative number');
    invalid({ name: 's', retry: { jitter: 'yes' }, steps: [{ name: 'a', action: noop }] }, 'saga s: retry.jitter must be a boolean');
    invalid({ name: 's', forwardRetry: { maxAttempts: 1.5 }, steps: [{ name: 'a', action: noop }] }, 'saga s: forwardRetry.maxAttempts must be a positive integer or Infinity');
    invalid({ name: 's', steps: [{ name: 'a', action: noop, retry: { maxDelayMs: 2_147_483_648 } }] }, 'saga s: step a: retry.maxDelayMs must be a number from initialDelayMs to 2147483647');
  });

  test('defaults are applied and step options override saga options', () => {
    const s = new Saga({ name: 's', timeoutMs: 500, retry: { maxAttempts: 4 }, steps: [{ name: 'a', action: noop }, { name: 'b', action: noop, timeoutMs: 9, retry: { maxAttempts: 1 }, pivot: true }] });
    assert.equal(s.steps[0]!.timeoutMs, 500);
    assert.equal(s.steps[0]!.retry.maxAttempts, 4);
    assert.equal(s.steps[0]!.compensationRetry.maxAttempts, 5);
    assert.equal(s.steps[1]!.timeoutMs, 9);
    assert.equal(s.steps[1]!.retry.maxAttempts, 1);
    assert.equal(s.pivotIndex, 1);
    assert.equal(s.recovery, 'resume');
    assert.equal(s.forwardRetry.maxAttempts, 10);
  });

  test('backoff grows by factor, is capped, and jitters within [d/2, d]', () => {
    const p = { ...DEFAULT_ACTION_RETRY, jitter: false, initialDelayMs: 100, maxDelayMs: 350, factor: 2 };
    assert.deepEqual([1, 2, 3, 4].map((a) => backoffDelay(p, a)), [100, 200, 350, 350]);
    const j = { ...p, jitter: true };
    assert.equal(backoffDelay(j, 2, () => 0), 100);
    assert.equal(backoffDelay(j, 2, () => 1), 200);
  });

  test('NonRetryableError and retryable:false opt out of retries', () => {
    assert.equal(defaultIsRetryable(new Error('x')), true);
    assert.equal(defaultIsRetryable(new NonRetryableError('no')), false);
    assert.equal(defaultIsRetryable(Object.assign(new Error('no'), { retryable: false })), false);
  });
});

describe('SagaOrchestrator options', () => {
  test('impossible options throw with exact messages', () => {
    assert.throws(() => new SagaOrchestrator({ maxActive: 0 }), { name: 'RangeError', message: 'maxActive must be a positive integer' });
    assert.throws(() => new SagaOrchestrator({ forgetFinished: 'yes' as unknown as boolean }), { name: 'TypeError', message: 'forgetFinished must be a boolean' });
    assert.throws(() => new SagaOrchestrator({ log: {} as never }), { name: 'TypeError', message: 'log must be a SagaLog' });
  });

  test('registering two sagas of one name is refused', () => {
    const s = new Saga({ name: 's', steps: [{ name: 'a', action: noop }] });
    const o = new SagaOrchestrator({ sagas: [s] });
    assert.throws(() => o.register(s), (e: unknown) => isKefuError(e, 'KEFU_ERR_SAGA_INVALID_DEFINITION') && (e as Error).message === 'a saga named s is already registered');
    for (const bad of [undefined, null, {}, { name: 's', steps: 'x' }]) {
      assert.throws(() => o.register(bad as never), (e: unknown) => isKefuError(e, 'KEFU_ERR_SAGA_INVALID_DEFINITION') && (e as Error).message === 'register() takes a Saga (new Saga({ name, steps }))');
    }
  });
});
