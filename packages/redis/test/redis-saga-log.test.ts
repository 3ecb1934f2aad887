import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { sagaLogSuite, sampleSagaRecord } from '@kefu/core/testing';
import { NonRetryableError, Saga, SagaOrchestrator, isKefuError, type SagaDefinition } from '@kefu/core';
import { RedisSagaLog } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;
let n = 0;

if (!skip) {
  sagaLogSuite({ test, describe }, {
    name: 'RedisSagaLog',
    factory: async () => {
      const name = `log${++n}`;
      return { log: new RedisSagaLog(redis.url, { name }), reopen: async () => new RedisSagaLog(redis.url, { name }) };
    },
  });
} else {
  test('RedisSagaLog conformance', { skip }, () => {});
}

/** Waits for an event of a step (bounded). */
function stepStarted(orch: SagaOrchestrator, step: string, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`step ${step} never started`)), ms);
    const on = (e: { step: string }): void => {
      if (e.step !== step) return;
      clearTimeout(t);
      orch.off('step:started', on);
      resolve();
    };
    orch.on('step:started', on);
  });
}

/** Three steps whose effects are counted per idempotency key; `hangAt` waits for the abort. */
function refundLike(applied: Map<string, number>, hangAt?: string, failAt?: string): SagaDefinition {
  const mk = (name: string) => ({
    name,
    action: async (ctx: { idempotencyKey: string; signal: AbortSignal }) => {
      if (name === hangAt) await new Promise((_, reject) => ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason), { once: true }));
      if (name === failAt) throw new NonRetryableError(`${name} refused`);
      applied.set(ctx.idempotencyKey, (applied.get(ctx.idempotencyKey) ?? 0) + 1);
      return name;
    },
    compensate: (ctx: { idempotencyKey: string }) => {
      if (name === 'ticket' && failAt !== undefined) throw new NonRetryableError('helpdesk refused the close');
      applied.set(`undo:${ctx.idempotencyKey}`, 1);
    },
  });
  return { name: 'refund', retry: { maxAttempts: 2, initialDelayMs: 1, maxDelayMs: 2 }, steps: [mk('ticket'), mk('refund'), mk('note')] };
}

describe('RedisSagaLog with the orchestrator (two nodes, one Redis)', { skip }, () => {
  test('options are checked with exact messages, before any connection', () => {
    assert.throws(() => new RedisSagaLog(redis.url, { prefix: 5 as unknown as string }), { name: 'TypeError', message: 'options.prefix must be a string of at most 64 characters' });
    assert.throws(() => new RedisSagaLog(redis.url, { prefix: 'p'.repeat(65) }), { name: 'TypeError', message: 'options.prefix must be a string of at most 64 characters' });
    assert.throws(() => new RedisSagaLog(redis.url, { name: 'a b' }), { name: 'TypeError', message: 'options.name must be 1-128 characters of letters, digits, _ . : -' });
    assert.throws(() => new RedisSagaLog(redis.url, { name: '' }), { name: 'TypeError', message: 'options.name must be 1-128 characters of letters, digits, _ . : -' });
    assert.throws(() => new RedisSagaLog(redis.url, { maxRecordBytes: 100 }), { name: 'RangeError', message: 'maxRecordBytes must be an integer >= 256' });
  });

  test('a saga interrupted on node A is recovered by node B from Redis: each step once, same keys', async () => {
    const applied = new Map<string, number>();
    const logA = new RedisSagaLog(redis.url, { name: 'two-nodes' });
    const logB = new RedisSagaLog(redis.url, { name: 'two-nodes' });
    const a = new SagaOrchestrator({ log: logA, sagas: [new Saga(refundLike(applied, 'refund'))] });
    const b = new SagaOrchestrator({ log: logB, sagas: [new Saga(refundLike(applied))] });
    try {
      const hung = stepStarted(a, 'refund');
      const started = await a.start('refund', { orderId: 'o-1' }, { id: 'node-a-1' });
      await hung;
      // Node A goes away with the refund step logged as running.
      await a.close();
      await assert.rejects(started.done, (e: unknown) => isKefuError(e, 'KEFU_ERR_CLOSED'));
      const seen = (await b.get('node-a-1'))!;
      assert.deepEqual(seen.steps.map((s) => s.status), ['done', 'running', 'pending']);
      const report = await b.recover();
      assert.deepEqual(report.resumed, [{ id: 'node-a-1', saga: 'refund', state: 'running' }]);
      const settled = await report.settled;
      assert.deepEqual(settled.outcomes.map((o) => o.state), ['completed']);
      assert.deepEqual([...applied.entries()].sort(), [['node-a-1:note', 1], ['node-a-1:refund', 1], ['node-a-1:ticket', 1]]);
      assert.deepEqual(await b.list('running'), [], 'nothing left open');
    } finally {
      await a.close();
      await b.close();
      await logA.close();
      await logB.close();
    }
  });

  test('a compensation-failed saga is listed for repair on every node and retried from another one', async () => {
    const applied = new Map<string, number>();
    const logA = new RedisSagaLog(redis.url, { name: 'repair' });
    const logB = new RedisSagaLog(redis.url, { name: 'repair' });
    const a = new SagaOrchestrator({ log: logA, sagas: [new Saga(refundLike(applied, undefined, 'refund'))] });
    const b = new SagaOrchestrator({ log: logB, sagas: [new Saga(refundLike(applied))] });
    try {
      const out = await a.run('refund', {}, { id: 'stuck' });
      assert.equal(out.state, 'compensation-failed');
      assert.deepEqual((await b.listFailed()).map((r) => [r.id, r.state]), [['stuck', 'compensation-failed']]);
      const fixed = await b.retry('stuck');
      assert.equal(fixed.state, 'compensated');
      assert.deepEqual([...applied.keys()].sort(), ['stuck:ticket', 'undo:stuck:ticket']);
      assert.deepEqual(await a.listFailed(), []);
    } finally {
      await a.close();
      await b.close();
      await logA.close();
      await logB.close();
    }
  });

  test('a write from a stale version on another connection is refused (SAGA_CONFLICT)', async () => {
    const logA = new RedisSagaLog(redis.url, { name: 'conflict' });
    const logB = new RedisSagaLog(redis.url, { name: 'conflict' });
    try {
      await Promise.all([logA.open(), logB.open()]);
      const v1 = await logA.create(sampleSagaRecord('c-1'));
      await logB.update({ ...v1, state: 'compensating' });
      await assert.rejects(logA.update({ ...v1, state: 'completed' }), (e: unknown) => isKefuError(e, 'KEFU_ERR_SAGA_CONFLICT'));
      assert.equal((await logA.get('c-1'))!.state, 'compensating');
    } finally {
      await logA.close();
      await logB.close();
    }
  });
});
