import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { MemorySagaLog } from '../../src/saga/memory-saga-log.js';
import { sagaLogSuite, sampleSagaRecord } from '../../src/testing/saga-log-suite.js';

sagaLogSuite({ test, describe }, { name: 'MemorySagaLog', factory: async () => ({ log: new MemorySagaLog() }) });

describe('MemorySagaLog limits', () => {
  test('evicts the oldest finished records past maxFinished, never open or failed ones', async () => {
    const log = new MemorySagaLog({ maxFinished: 2 });
    await log.open();
    try {
      await log.create(sampleSagaRecord('open-1'));
      await log.create(sampleSagaRecord('failed-1', 'compensation-failed'));
      for (const id of ['f1', 'f2', 'f3']) {
        const v1 = await log.create(sampleSagaRecord(id));
        await log.update({ ...v1, state: 'completed' });
      }
      assert.equal(await log.get('f1'), undefined, 'oldest finished one evicted');
      assert.ok(await log.get('f2'));
      assert.ok(await log.get('f3'));
      assert.ok(await log.get('open-1'));
      assert.ok(await log.get('failed-1'));
      assert.equal(log.size, 4);
    } finally {
      await log.close();
    }
  });

  test('options are checked with exact messages', () => {
    assert.throws(() => new MemorySagaLog({ maxFinished: -1 }), { name: 'RangeError', message: 'maxFinished must be a non-negative integer' });
    assert.throws(() => new MemorySagaLog({ maxRecordBytes: 10 }), { name: 'RangeError', message: 'maxRecordBytes must be an integer >= 256' });
  });
});
