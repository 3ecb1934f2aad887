import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
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
    const db = new Level<string, string>(join(tmpdir(), 'never-opened'));
    assert.throws(() => new LevelSagaLog({ location: '/tmp/x', db }), { name: 'TypeError', message: 'pass either location or db, not both' });
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
});
