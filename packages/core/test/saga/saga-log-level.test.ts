import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { LevelSagaLog } from '../../src/saga/level-saga-log.js';
import { sagaLogSuite, sampleSagaRecord } from '../../src/testing/saga-log-suite.js';

sagaLogSuite({ test, describe }, {
  name: 'LevelSagaLog',
  factory: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kefu-saga-log-'));
    return {
      log: new LevelSagaLog({ location: dir }),
      reopen: async () => new LevelSagaLog({ location: dir }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

describe('LevelSagaLog options and shared databases', () => {
  test('impossible options throw with exact messages', () => {
    assert.throws(() => new LevelSagaLog({}), { name: 'TypeError', message: 'LevelSagaLog needs a location (a directory) or a db' });
    // Options are refused before any database is created (a Level instance opens itself), so
    // these never touch the locations they name.
    const db = {} as Level<string, string>;
    const nowhere = join(tmpdir(), 'kefu-saga-never-created');
    assert.throws(() => new LevelSagaLog({ location: nowhere, db }), { name: 'TypeError', message: 'pass either location or db, not both' });
    assert.throws(() => new LevelSagaLog({ location: nowhere, maxCachedVersions: -1 }), { name: 'RangeError', message: 'maxCachedVersions must be a non-negative integer' });
    assert.throws(() => new LevelSagaLog({ location: nowhere, maxBatchOps: 0 }), { name: 'RangeError', message: 'maxBatchOps must be a positive integer' });
    assert.throws(() => new LevelSagaLog({ location: nowhere, sync: 'no' as unknown as boolean }), { name: 'TypeError', message: 'sync must be a boolean' });
    assert.throws(() => new LevelSagaLog({ location: nowhere, maxRecordBytes: 255 }), { name: 'RangeError', message: 'maxRecordBytes must be an integer >= 256' });
    assert.throws(() => new LevelSagaLog(null as never), { name: 'TypeError', message: 'LevelSagaLog needs options with location or db' });
    assert.equal(existsSync(nowhere), false);
  });

  test('a host-owned db stays open after the log closes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kefu-saga-db-'));
    const db = new Level<string, string>(dir, { keyEncoding: 'utf8', valueEncoding: 'utf8' });
    try {
      const log = new LevelSagaLog({ db, sync: false });
      await log.open();
      await log.create(sampleSagaRecord('h'));
      await log.close();
      assert.equal(db.status, 'open');
      assert.ok((await db.get('r!h')) !== undefined);
    } finally {
      await db.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('past maxCachedVersions it reads versions from disk, still refusing stale writes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kefu-saga-known-'));
    const log = new LevelSagaLog({ location: dir, sync: false, maxCachedVersions: 10 });
    try {
      await log.open();
      const first = await log.create(sampleSagaRecord('k-00000'));
      await Promise.all(Array.from({ length: 20 }, (_, i) => log.create(sampleSagaRecord(`k-${String(i + 1).padStart(5, '0')}`))));
      const second = await log.update({ ...first, state: 'compensating' });
      assert.equal(second.version, 2);
      await assert.rejects(log.update({ ...first, state: 'completed' }), (e: unknown) => (e as { code?: string }).code === 'KEFU_ERR_SAGA_CONFLICT');
      assert.deepEqual((await log.list('compensating')).map((r) => r.id), ['k-00000']);
      await assert.rejects(log.create(sampleSagaRecord('k-00000')), (e: unknown) => (e as { code?: string }).code === 'KEFU_ERR_SAGA_ALREADY_EXISTS');
    } finally {
      await log.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
