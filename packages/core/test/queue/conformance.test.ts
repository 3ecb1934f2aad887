import { test, describe } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { queueStoreSuite } from '../../src/testing/queue-store-suite.js';
import { MemoryQueueStore } from '../../src/queue/memory-queue-store.js';
import { LevelQueueStore } from '../../src/queue/level-queue-store.js';

queueStoreSuite({ test, describe }, { name: 'MemoryQueueStore', factory: () => ({ store: new MemoryQueueStore() }) });

queueStoreSuite({ test, describe }, {
  name: 'LevelQueueStore',
  factory: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kefu-queue-'));
    return {
      store: new LevelQueueStore({ location: dir }),
      reopen: () => new LevelQueueStore({ location: dir }),
      cleanup: () => rm(dir, { recursive: true, force: true }),
    };
  },
});

queueStoreSuite({ test, describe }, {
  name: 'LevelQueueStore (sync: false, tiny batches, tiny index, no cache)',
  factory: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kefu-queue-'));
    const make = (): LevelQueueStore => new LevelQueueStore({ location: dir, sync: false, maxBatchOps: 2, initialCapacity: 1, compactEvery: 1, cacheBytes: 0 });
    return { store: make(), reopen: make, cleanup: () => rm(dir, { recursive: true, force: true }) };
  },
});
