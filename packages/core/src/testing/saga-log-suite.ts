/**
 * Conformance suite for SagaLog stores. Every store (memory, LevelDB, Redis, a third party's)
 * runs the same cases:
 *
 *   import { test, describe } from 'node:test';
 *   sagaLogSuite({ test, describe }, { name: 'LevelSagaLog', factory: async () => ({ log, reopen, cleanup }) });
 */
import assert from 'node:assert/strict';
import { isKefuError, type KefuErrorCode } from '@kefu/protocol';
import type { SagaLog } from '../saga/saga-log.js';
import type { SagaRecord, SagaState } from '../saga/types.js';

/** The slice of node:test's API the suite uses. */
import type { SuiteTestApi } from './suite-api.js';
export type { SuiteTestApi };

export interface SagaLogFixture {
  /** A fresh, empty, unopened log. */
  log: SagaLog;
  /** A new log instance over the same storage (after `log` was closed), for durable stores. */
  reopen?: () => Promise<SagaLog>;
  /** Removes the storage (temp dir, Redis keys). Called after the log is closed. */
  cleanup?: () => Promise<void>;
}

export interface SagaLogSuiteOptions {
  name: string;
  factory: () => Promise<SagaLogFixture>;
}

/** A valid record for tests. */
export function sampleSagaRecord(id: string, state: SagaState = 'running', extra: Partial<SagaRecord> = {}): SagaRecord {
  return {
    id, saga: 'refund', state, input: { orderId: 'o-1', amount: 12.5 },
    steps: [
      { name: 'ticket', status: 'done', attempts: 1, compensationAttempts: 0, result: { ticketId: 't-1' } },
      { name: 'refund', status: 'pending', attempts: 0, compensationAttempts: 0 },
    ],
    createdAt: 1, updatedAt: 1, version: 0, ...extra,
  };
}

async function rejectsWith(p: Promise<unknown>, code: KefuErrorCode): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isKefuError(err, code), `expected ${code}, got ${String((err as { code?: unknown })?.code ?? err)}`);
    return true;
  });
}

export function sagaLogSuite(api: SuiteTestApi, options: SagaLogSuiteOptions): void {
  const { describe, test } = api;

  /** Runs `fn` with an opened log and always closes and cleans up. */
  const withLog = (fn: (log: SagaLog, fx: SagaLogFixture) => Promise<void>) => async () => {
    const fx = await options.factory();
    try {
      await fx.log.open();
      await fn(fx.log, fx);
    } finally {
      await fx.log.close();
      await fx.cleanup?.();
    }
  };

  describe(`SagaLog conformance: ${options.name}`, () => {
    test('rejects calls before open (NOT_OPEN) and after close (CLOSED); open is idempotent', async () => {
      const fx = await options.factory();
      try {
        assert.equal(fx.log.status, 'new');
        await rejectsWith(fx.log.get('a'), 'KEFU_ERR_NOT_OPEN');
        await Promise.all([fx.log.open(), fx.log.open()]);
        assert.equal(fx.log.status, 'open');
        await fx.log.close();
        assert.equal(fx.log.status, 'closed');
        await rejectsWith(fx.log.get('a'), 'KEFU_ERR_CLOSED');
        await rejectsWith(fx.log.create(sampleSagaRecord('a')), 'KEFU_ERR_CLOSED');
        await rejectsWith(fx.log.open(), 'KEFU_ERR_CLOSED');
        await fx.log.close();
      } finally {
        await fx.log.close();
        await fx.cleanup?.();
      }
    });

    test('create stores version 1; get returns an equal copy; unknown id is undefined', withLog(async (log) => {
      const stored = await log.create(sampleSagaRecord('s-1'));
      assert.equal(stored.version, 1);
      assert.deepEqual(await log.get('s-1'), { ...sampleSagaRecord('s-1'), version: 1 });
      assert.equal(await log.get('nope'), undefined);
      const got = (await log.get('s-1'))!;
      (got.input as { amount: number }).amount = 999;
      assert.equal(((await log.get('s-1'))!.input as { amount: number }).amount, 12.5, 'returned records are copies');
    }));

    test('create of an existing id rejects with SAGA_ALREADY_EXISTS and changes nothing', withLog(async (log) => {
      await log.create(sampleSagaRecord('dup'));
      await rejectsWith(log.create(sampleSagaRecord('dup', 'compensating')), 'KEFU_ERR_SAGA_ALREADY_EXISTS');
      assert.equal((await log.get('dup'))!.state, 'running');
    }));

    test('update needs the stored version: bumps it, refuses stale versions (SAGA_CONFLICT) and unknown ids', withLog(async (log) => {
      const v1 = await log.create(sampleSagaRecord('u'));
      const v2 = await log.update({ ...v1, state: 'compensating' });
      assert.equal(v2.version, 2);
      await rejectsWith(log.update({ ...v1, state: 'completed' }), 'KEFU_ERR_SAGA_CONFLICT');
      const now = (await log.get('u'))!;
      assert.equal(now.state, 'compensating');
      assert.equal(now.version, 2);
      await rejectsWith(log.update({ ...sampleSagaRecord('ghost'), version: 1 }), 'KEFU_ERR_SAGA_NOT_FOUND');
    }));

    test('concurrent updates from one version: exactly one wins', withLog(async (log) => {
      const v1 = await log.create(sampleSagaRecord('race'));
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, i) => log.update({ ...v1, updatedAt: 100 + i })),
      );
      const ok = results.filter((r) => r.status === 'fulfilled');
      assert.equal(ok.length, 1);
      for (const r of results) if (r.status === 'rejected') assert.ok(isKefuError(r.reason, 'KEFU_ERR_SAGA_CONFLICT'));
      assert.equal((await log.get('race'))!.version, 2);
    }));

    test('concurrent creates of one id: exactly one wins', withLog(async (log) => {
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => log.create(sampleSagaRecord('c'))));
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
    }));

    test('list returns one state, ordered by id, paged with limit and after; follows state changes', withLog(async (log) => {
      for (const id of ['b', 'a', 'd', 'c']) await log.create(sampleSagaRecord(id));
      await log.create(sampleSagaRecord('x', 'compensation-failed'));
      assert.deepEqual((await log.list('running')).map((r) => r.id), ['a', 'b', 'c', 'd']);
      assert.deepEqual((await log.list('running', { limit: 2 })).map((r) => r.id), ['a', 'b']);
      assert.deepEqual((await log.list('running', { limit: 2, after: 'b' })).map((r) => r.id), ['c', 'd']);
      assert.deepEqual((await log.list('compensation-failed')).map((r) => r.id), ['x']);
      const c = (await log.get('c'))!;
      await log.update({ ...c, state: 'completed' });
      assert.deepEqual((await log.list('running')).map((r) => r.id), ['a', 'b', 'd']);
      assert.deepEqual((await log.list('completed')).map((r) => r.id), ['c']);
      assert.deepEqual(await log.list('compensated'), []);
    }));

    test('delete removes the record and its listing; answers whether it existed', withLog(async (log) => {
      await log.create(sampleSagaRecord('del'));
      assert.equal(await log.delete('del'), true);
      assert.equal(await log.delete('del'), false);
      assert.equal(await log.get('del'), undefined);
      assert.deepEqual(await log.list('running'), []);
      await log.create(sampleSagaRecord('del'));
      assert.equal((await log.get('del'))!.version, 1, 'a deleted id can be created again');
    }));

    test('invalid arguments reject with INVALID_ARGUMENT', withLog(async (log) => {
      await rejectsWith(log.get(''), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.get('x'.repeat(257)), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.get('a\nb'), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.create(sampleSagaRecord('v', 'running', { version: 3 })), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.create(sampleSagaRecord('v', 'bogus' as SagaState)), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.update(sampleSagaRecord('v')), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.list('running', { limit: 0 }), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.list('running', { limit: 10_001 }), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.list('nope' as SagaState), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(log.delete(''), 'KEFU_ERR_INVALID_ARGUMENT');
      assert.equal(await log.get('v'), undefined);
    }));

    test('a record over maxRecordBytes rejects with PAYLOAD_TOO_LARGE and is not stored', withLog(async (log) => {
      const big = sampleSagaRecord('big', 'running', { input: 'x'.repeat(log.maxRecordBytes) });
      await rejectsWith(log.create(big), 'KEFU_ERR_PAYLOAD_TOO_LARGE');
      assert.equal(await log.get('big'), undefined);
      const v1 = await log.create(sampleSagaRecord('grow'));
      await rejectsWith(log.update({ ...v1, input: 'y'.repeat(log.maxRecordBytes) }), 'KEFU_ERR_PAYLOAD_TOO_LARGE');
      assert.equal((await log.get('grow'))!.version, 1);
    }));

    test('records survive close and reopen (durable stores)', async () => {
      const fx = await options.factory();
      if (!fx.log.supports.durable || fx.reopen === undefined) {
        await fx.cleanup?.();
        return;
      }
      let again: SagaLog | undefined;
      try {
        await fx.log.open();
        const v1 = await fx.log.create(sampleSagaRecord('keep'));
        // Not awaited: close() must wait for writes in flight.
        const pending = fx.log.update({ ...v1, state: 'compensating' });
        await fx.log.close();
        await pending;
        again = await fx.reopen();
        await again.open();
        const rec = (await again.get('keep'))!;
        assert.equal(rec.state, 'compensating');
        assert.equal(rec.version, 2);
        assert.deepEqual((await again.list('compensating')).map((r) => r.id), ['keep']);
        assert.deepEqual(await again.list('running'), []);
      } finally {
        await fx.log.close();
        await again?.close();
        await fx.cleanup?.();
      }
    });
  });
}
