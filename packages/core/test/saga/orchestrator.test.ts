import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { isKefuError, type KefuErrorCode } from '@kefu/protocol';
import { Saga, type SagaStep } from '../../src/saga/saga.js';
import { NonRetryableError } from '../../src/saga/retry.js';
import { SagaOrchestrator } from '../../src/saga/orchestrator.js';
import { MemorySagaLog } from '../../src/saga/memory-saga-log.js';
import type { SagaRecord } from '../../src/saga/types.js';
import { journal, once, type Journal } from './helpers.js';

const fast = { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 5 };

/** A step that records its calls; `fail` makes the action throw that error. */
function step(j: Journal, name: string, extra: Partial<SagaStep<{ n: number }>> = {}): SagaStep<{ n: number }> {
  return {
    name,
    action: (ctx) => {
      j.calls.push(`${name}:do`);
      j.keys.push(ctx.idempotencyKey);
      return { from: name, n: ctx.input.n, seen: Object.keys(ctx.results) };
    },
    compensate: (ctx) => {
      j.calls.push(`${name}:undo`);
      j.keys.push(ctx.idempotencyKey);
      assert.deepEqual((ctx.result as { from: string } | undefined)?.from, ctx.result === undefined ? undefined : name);
    },
    ...extra,
  };
}

async function rejectsWith(p: Promise<unknown>, code: KefuErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => isKefuError(e, code));
}

describe('SagaOrchestrator: forward and backward', () => {
  test('runs the steps in order, passes results and idempotency keys, logs completed', async () => {
    const j = journal();
    const saga = new Saga<{ n: number }>({ name: 'three', retry: fast, steps: [step(j, 'a'), step(j, 'b'), step(j, 'c')] });
    const orch = new SagaOrchestrator({ sagas: [saga] });
    const events: string[] = [];
    for (const e of ['saga:started', 'step:started', 'step:completed', 'saga:completed'] as const) orch.on(e, () => events.push(e));
    try {
      const out = await orch.run('three', { n: 7 }, { id: 'saga-1' });
      assert.equal(out.state, 'completed');
      assert.deepEqual(j.calls, ['a:do', 'b:do', 'c:do']);
      assert.deepEqual(j.keys, ['saga-1:a', 'saga-1:b', 'saga-1:c']);
      assert.deepEqual(out.results.c, { from: 'c', n: 7, seen: ['a', 'b'] });
      assert.deepEqual(events, ['saga:started', 'step:started', 'step:completed', 'step:started', 'step:completed', 'step:started', 'step:completed', 'saga:completed']);
      const rec = (await orch.get('saga-1'))!;
      assert.equal(rec.state, 'completed');
      assert.deepEqual(rec.steps.map((s) => [s.status, s.attempts]), [['done', 1], ['done', 1], ['done', 1]]);
      await rejectsWith(orch.run('three', { n: 1 }, { id: 'saga-1' }), 'KEFU_ERR_SAGA_ALREADY_EXISTS');
      await rejectsWith(orch.run('nope', {}), 'KEFU_ERR_SAGA_UNKNOWN_DEFINITION');
    } finally {
      await orch.close();
    }
  });

  for (const failing of [0, 1, 2, 3]) {
    test(`a failure at step ${failing} compensates the done steps in reverse order`, async () => {
      const j = journal();
      const names = ['a', 'b', 'c', 'd'];
      const steps = names.map((n, i) => step(j, n, i === failing ? {
        action: () => {
          j.calls.push(`${n}:do`);
          throw new NonRetryableError(`${n} refused`);
        },
      } : {}));
      const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 'four', retry: fast, steps })] });
      const order: string[] = [];
      orch.on('step:compensated', (e) => order.push(e.step));
      try {
        const compensating = once(orch, 'saga:compensating');
        const out = await orch.run('four', { n: 1 }, { id: `f${failing}` });
        assert.equal(out.state, 'compensated');
        assert.deepEqual(out.error, { message: `${names[failing]} refused`, step: names[failing] });
        assert.equal((await compensating).error.step, names[failing]);
        const done = names.slice(0, failing);
        assert.deepEqual(j.calls, [...names.slice(0, failing + 1).map((n) => `${n}:do`), ...[...done].reverse().map((n) => `${n}:undo`)]);
        assert.deepEqual(order, [...done].reverse());
        const rec = (await orch.get(`f${failing}`))!;
        assert.deepEqual(rec.steps.map((s) => s.status), names.map((_, i) => (i < failing ? 'compensated' : i === failing ? 'failed' : 'pending')));
        assert.equal(rec.steps[failing]!.attempts, 1, 'a non-retryable error is not retried');
      } finally {
        await orch.close();
      }
    });
  }

  test('a step without a compensation is passed over in reverse order with step:compensated { skipped: true }', async () => {
    const j = journal();
    const seen: Array<[string, boolean]> = [];
    const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 's', retry: fast, steps: [
      step(j, 'a'),
      { name: 'lookup', action: () => 'read only' },
      step(j, 'c', { action: () => { throw new NonRetryableError('no'); } }),
    ] })] });
    orch.on('step:compensated', (e) => seen.push([e.step, e.skipped === true]));
    try {
      assert.equal((await orch.run('s', { n: 1 }, { id: 'skip' })).state, 'compensated');
      assert.deepEqual(seen, [['lookup', true], ['a', false]]);
      assert.deepEqual((await orch.get('skip'))!.steps.map((s) => s.status), ['compensated', 'compensated', 'failed']);
    } finally {
      await orch.close();
    }
  });

  test('compensateFailed also undoes the failed step (its effect may exist)', async () => {
    const j = journal();
    const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 's', retry: fast, steps: [step(j, 'a'), step(j, 'b', { compensateFailed: true, action: () => { throw new NonRetryableError('x'); } })] })] });
    try {
      const out = await orch.run('s', { n: 1 });
      assert.equal(out.state, 'compensated');
      assert.deepEqual(j.calls, ['a:do', 'b:undo', 'a:undo']);
    } finally {
      await orch.close();
    }
  });

  test('transient errors are retried with backoff and the same idempotency key', async () => {
    const j = journal();
    let left = 2;
    const retries: number[] = [];
    const orch = new SagaOrchestrator({ sagas: [new Saga<{ n: number }>({ name: 's', steps: [step(j, 'a', {
      retry: { maxAttempts: 3, initialDelayMs: 5, maxDelayMs: 20, jitter: false },
      action: (ctx) => {
        j.keys.push(ctx.idempotencyKey);
        if (left-- > 0) throw new Error('ECONNRESET');
        return ctx.attempt;
      },
    })] })] });
    orch.on('step:retrying', (e) => retries.push(e.delayMs));
    try {
      const out = await orch.run('s', { n: 1 }, { id: 'r' });
      assert.equal(out.state, 'completed');
      assert.equal(out.results.a, 3);
      assert.deepEqual(retries, [5, 10]);
      assert.deepEqual(j.keys, ['r:a', 'r:a', 'r:a']);
      assert.equal((await orch.get('r'))!.steps[0]!.attempts, 3);
    } finally {
      await orch.close();
    }
  });

  test('a step is cut off at its timeout, its signal aborts, and the last timeout fails it', async () => {
    const j = journal();
    const aborted: unknown[] = [];
    const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 's', steps: [step(j, 'a'), step(j, 'slow', {
      timeoutMs: 30, retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
      action: (ctx) => new Promise((_, reject) => ctx.signal.addEventListener('abort', () => {
        aborted.push(ctx.signal.reason);
        reject(ctx.signal.reason);
      })),
    })] })] });
    try {
      const out = await orch.run('s', { n: 1 });
      assert.equal(out.state, 'compensated');
      assert.equal(out.error?.code, 'KEFU_ERR_SAGA_STEP_TIMEOUT');
      assert.equal(aborted.length, 2);
      assert.ok(aborted.every((r) => isKefuError(r, 'KEFU_ERR_SAGA_STEP_TIMEOUT')));
      assert.deepEqual(j.calls, ['a:do', 'a:undo']);
    } finally {
      await orch.close();
    }
  });

  test('a step that ignores its signal is still cut off at its timeout', async () => {
    const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 's', steps: [{ name: 'deaf', timeoutMs: 20, retry: { maxAttempts: 1 }, action: () => new Promise((r) => setTimeout(r, 300)) }] })] });
    try {
      const out = await orch.run('s', {});
      assert.equal(out.state, 'compensated');
      assert.equal(out.error?.code, 'KEFU_ERR_SAGA_STEP_TIMEOUT');
    } finally {
      await orch.close();
    }
  });
});

describe('SagaOrchestrator: pivot and manual repair', () => {
  test('after the pivot a failing step retries forward, never compensates, then waits as forward-failed; retry() finishes it', async () => {
    const j = journal();
    let broken = true;
    const orch = new SagaOrchestrator({ sagas: [new Saga<{ n: number }>({
      name: 'p', retry: { maxAttempts: 1, initialDelayMs: 1, maxDelayMs: 2 }, forwardRetry: { maxAttempts: 3 },
      steps: [step(j, 'a'), step(j, 'pivot', { pivot: true }), step(j, 'after', {
        action: () => {
          j.calls.push('after:do');
          if (broken) throw new Error('crm down');
          return 'noted';
        },
      })],
    })] });
    try {
      const failed = once(orch, 'saga:forward-failed');
      const out = await orch.run('p', { n: 1 }, { id: 'pv' });
      assert.equal(out.state, 'forward-failed');
      assert.equal((await failed).id, 'pv');
      assert.deepEqual(j.calls, ['a:do', 'pivot:do', 'after:do', 'after:do', 'after:do'], 'forward retries use forwardRetry.maxAttempts');
      assert.deepEqual((await orch.listFailed()).map((r) => r.id), ['pv']);
      broken = false;
      const again = await orch.retry('pv');
      assert.equal(again.state, 'completed');
      assert.equal(again.results.after, 'noted');
      assert.deepEqual(await orch.listFailed(), []);
      await rejectsWith(orch.retry('pv'), 'KEFU_ERR_SAGA_INVALID_STATE');
      await rejectsWith(orch.retry('missing'), 'KEFU_ERR_SAGA_NOT_FOUND');
    } finally {
      await orch.close();
    }
  });

  test('a failed pivot compensates the steps before it', async () => {
    const j = journal();
    const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 'p', retry: fast, steps: [step(j, 'a'), step(j, 'pivot', { pivot: true, action: () => { throw new NonRetryableError('declined'); } }), step(j, 'c')] })] });
    try {
      const out = await orch.run('p', { n: 1 });
      assert.equal(out.state, 'compensated');
      assert.deepEqual(j.calls, ['a:do', 'a:undo']);
    } finally {
      await orch.close();
    }
  });

  test('a compensation that fails leaves compensation-failed (event + list); retry() resumes in order; resolve() closes another', async () => {
    const j = journal();
    let undoBroken = true;
    const saga = new Saga<{ n: number }>({
      name: 'cf', retry: fast, compensationRetry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 1 },
      steps: [step(j, 'a'), step(j, 'b', {
        compensate: () => {
          j.calls.push('b:undo');
          if (undoBroken) throw new Error('helpdesk down');
        },
      }), step(j, 'c', { action: () => { throw new NonRetryableError('erp refused'); } })],
    });
    const orch = new SagaOrchestrator({ sagas: [saga] });
    try {
      const ev = once(orch, 'saga:compensation-failed');
      const out = await orch.run('cf', { n: 1 }, { id: 'x1' });
      assert.equal(out.state, 'compensation-failed');
      assert.equal(out.error?.message, 'helpdesk down');
      assert.equal((await ev).id, 'x1');
      assert.deepEqual(j.calls, ['a:do', 'b:do', 'b:undo', 'b:undo'], 'a is not undone while b is stuck');
      await orch.run('cf', { n: 2 }, { id: 'x2' });
      assert.deepEqual((await orch.listFailed()).map((r) => r.id), ['x1', 'x2']);
      assert.deepEqual((await orch.listFailed({ limit: 1, after: 'x1' })).map((r) => r.id), ['x2']);

      undoBroken = false;
      j.calls.length = 0;
      const fixed = await orch.retry('x1');
      assert.equal(fixed.state, 'compensated');
      assert.deepEqual(j.calls, ['b:undo', 'a:undo']);

      const resolvedEv = once(orch, 'saga:resolved');
      const rec = await orch.resolve('x2', 'closed ticket by hand');
      assert.equal(rec.state, 'resolved');
      assert.equal(rec.resolution, 'closed ticket by hand');
      assert.equal((await resolvedEv).note, 'closed ticket by hand');
      assert.deepEqual(await orch.listFailed(), []);
      await rejectsWith(orch.resolve('x1', 'again'), 'KEFU_ERR_SAGA_INVALID_STATE');
      await rejectsWith(orch.resolve('x2', ''), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(orch.resolve('x2', 'n'.repeat(2001)), 'KEFU_ERR_INVALID_ARGUMENT');
    } finally {
      await orch.close();
    }
  });
});

describe('SagaOrchestrator: step results the log cannot keep', () => {
  test('before the pivot: the step failed with PAYLOAD_TOO_LARGE, it and the steps before it are compensated, no saga:error', async () => {
    const j = journal();
    const undone: unknown[] = [];
    const orch = new SagaOrchestrator({ log: new MemorySagaLog({ maxRecordBytes: 4096 }), sagas: [new Saga<{ n: number }>({
      name: 'big', retry: fast,
      steps: [step(j, 'a'), step(j, 'huge', {
        action: () => { j.calls.push('huge:do'); return 'x'.repeat(5000); },
        compensate: (ctx) => { j.calls.push('huge:undo'); undone.push(ctx.result); },
      }), step(j, 'c')],
    })] });
    const errors: unknown[] = [];
    orch.on('saga:error', (e) => errors.push(e));
    try {
      const failed = once(orch, 'step:failed');
      const out = await orch.run('big', { n: 1 }, { id: 'big-1' });
      assert.equal(out.state, 'compensated');
      assert.equal(out.error?.code, 'KEFU_ERR_PAYLOAD_TOO_LARGE');
      assert.equal(out.error?.step, 'huge');
      assert.match(out.error?.message ?? '', /^step huge returned a result the log cannot keep: /);
      assert.equal((await failed).step, 'huge');
      assert.deepEqual(j.calls, ['a:do', 'huge:do', 'huge:undo', 'a:undo'], 'its effect happened, so it is undone too');
      assert.deepEqual(undone, [undefined]);
      assert.deepEqual(errors, []);
      const rec = (await orch.get('big-1'))!;
      assert.deepEqual(rec.steps.map((s) => s.status), ['compensated', 'compensated', 'pending']);
      assert.equal(rec.steps[1]!.result, undefined);
      assert.equal(rec.steps[1]!.attempts, 1, 'not retried: the same result would fail again');
    } finally {
      await orch.close();
      await orch.log.close();
    }
  });

  test('a result that is not JSON (BigInt) fails the step with INVALID_ARGUMENT; after the pivot the saga waits as forward-failed', async () => {
    const j = journal();
    const orch = new SagaOrchestrator({ sagas: [new Saga<{ n: number }>({
      name: 'nonjson', retry: fast,
      steps: [step(j, 'a', { pivot: true }), step(j, 'b', { action: () => { j.calls.push('b:do'); return 10n; } })],
    })] });
    try {
      const out = await orch.run('nonjson', { n: 1 }, { id: 'nj' });
      assert.equal(out.state, 'forward-failed');
      assert.equal(out.error?.code, 'KEFU_ERR_INVALID_ARGUMENT');
      assert.deepEqual(j.calls, ['a:do', 'b:do'], 'after the pivot nothing is compensated');
      const rec = (await orch.get('nj'))!;
      assert.deepEqual(rec.steps.map((s) => s.status), ['done', 'failed']);
      assert.deepEqual((await orch.listFailed()).map((r) => r.id), ['nj']);
      await rejectsWith(orch.run('nonjson', { n: 2n } as unknown as { n: number }), 'KEFU_ERR_INVALID_ARGUMENT');
    } finally {
      await orch.close();
    }
  });
});

describe('SagaOrchestrator: limits and lifecycle', () => {
  test('maxActive bounds sagas in flight: one more start rejects with SAGA_TOO_MANY_ACTIVE', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => { release = r; });
    const orch = new SagaOrchestrator({ maxActive: 2, sagas: [new Saga({ name: 'g', steps: [{ name: 'wait', action: () => gate }] })] });
    try {
      const a = await orch.start('g', {});
      const b = await orch.start('g', {});
      assert.equal(orch.activeCount, 2);
      await rejectsWith(orch.start('g', {}), 'KEFU_ERR_SAGA_TOO_MANY_ACTIVE');
      release();
      assert.equal((await a.done).state, 'completed');
      assert.equal((await b.done).state, 'completed');
      assert.equal(orch.activeCount, 0);
      assert.equal((await orch.run('g', {})).state, 'completed');
    } finally {
      await orch.close();
    }
  });

  test('forgetFinished deletes completed and compensated records but keeps failed ones', async () => {
    const log = new MemorySagaLog();
    const orch = new SagaOrchestrator({ log, forgetFinished: true, sagas: [
      new Saga({ name: 'ok', steps: [{ name: 'a', action: () => 1 }] }),
      new Saga({ name: 'bad', steps: [{ name: 'a', action: () => 1, compensate: () => { throw new NonRetryableError('stuck'); } }, { name: 'b', action: () => { throw new NonRetryableError('no'); } }] }),
    ] });
    try {
      await orch.run('ok', {}, { id: 'gone' });
      await orch.run('bad', {}, { id: 'kept' });
      assert.equal(await orch.get('gone'), undefined);
      assert.equal((await orch.get('kept'))!.state, 'compensation-failed');
    } finally {
      await orch.close();
      await log.close();
    }
  });

  test('inputs over the log record limit are refused before any step runs', async () => {
    const j = journal();
    const orch = new SagaOrchestrator({ log: new MemorySagaLog({ maxRecordBytes: 1024 }), sagas: [new Saga({ name: 's', steps: [step(j, 'a')] })] });
    try {
      await rejectsWith(orch.run('s', { blob: 'x'.repeat(2000) }), 'KEFU_ERR_PAYLOAD_TOO_LARGE');
      assert.deepEqual(j.calls, []);
      await rejectsWith(orch.run('s', {}, { id: '' }), 'KEFU_ERR_INVALID_ARGUMENT');
    } finally {
      await orch.close();
      await orch.log.close();
    }
  });

  test('after close every method rejects with CLOSED', async () => {
    const orch = new SagaOrchestrator({ sagas: [new Saga({ name: 's', steps: [{ name: 'a', action: () => 1 }] })] });
    await orch.close();
    await rejectsWith(orch.run('s', {}), 'KEFU_ERR_CLOSED');
    await rejectsWith(orch.recover(), 'KEFU_ERR_CLOSED');
    await rejectsWith(orch.listFailed(), 'KEFU_ERR_CLOSED');
    assert.equal(orch.log.status, 'closed', 'the orchestrator closes the log it created');
  });

  test('a log write that fails stops the saga where the log has it: run() rejects with STORE, saga:error is emitted', async () => {
    class FlakyLog extends MemorySagaLog {
      failUpdates = false;
      protected override async _update(record: SagaRecord, json: string, expected: number): Promise<'ok' | 'missing' | 'conflict'> {
        if (this.failUpdates) throw new Error('disk full');
        return super._update(record, json, expected);
      }
    }
    const log = new FlakyLog();
    const orch = new SagaOrchestrator({ log, sagas: [new Saga({ name: 's', steps: [{ name: 'a', action: () => { log.failUpdates = true; return 1; } }, { name: 'b', action: () => 2 }] })] });
    try {
      const ev = once(orch, 'saga:error');
      await rejectsWith(orch.run('s', {}, { id: 'io' }), 'KEFU_ERR_STORE');
      assert.match((await ev).error.message, /disk full/);
      const rec = (await log.get('io'))!;
      assert.equal(rec.state, 'running');
      assert.equal(rec.steps[0]!.status, 'running', 'recover() will re-run step a with its idempotency key');
    } finally {
      await orch.close();
      await log.close();
    }
  });

  test('compensation retries are reported with compensation: true', async () => {
    let left = 1;
    const orch = new SagaOrchestrator({ sagas: [new Saga({
      name: 's', compensationRetry: { maxAttempts: 3, initialDelayMs: 1, maxDelayMs: 1 },
      steps: [
        { name: 'a', action: () => 1, compensate: () => { if (left-- > 0) throw new Error('busy'); } },
        { name: 'b', action: () => { throw new NonRetryableError('no'); } },
      ],
    })] });
    const seen: boolean[] = [];
    orch.on('step:retrying', (e) => seen.push(e.compensation));
    try {
      assert.equal((await orch.run('s', {})).state, 'compensated');
      assert.deepEqual(seen, [true]);
    } finally {
      await orch.close();
    }
  });
});
