import { test, describe } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deskStoreSuite } from '../../src/desk/testing/desk-store-suite.js';
import { MemoryDeskStore } from '../../src/desk/store/memory-desk-store.js';
import { LevelDeskStore } from '../../src/desk/store/level-desk-store.js';

deskStoreSuite({ test, describe }, { name: 'MemoryDeskStore', factory: () => new MemoryDeskStore() });

const dirs = new Map<object, string>();
deskStoreSuite({ test, describe }, {
  name: 'LevelDeskStore',
  factory: async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kefu-desk-store-'));
    const s = new LevelDeskStore({ location: dir });
    dirs.set(s, dir);
    return s;
  },
  reopen: (closed) => {
    const dir = dirs.get(closed)!;
    const s = new LevelDeskStore({ location: dir });
    dirs.set(s, dir);
    return s;
  },
  cleanup: async (s) => {
    const dir = dirs.get(s);
    if (dir) await rm(dir, { recursive: true, force: true });
  },
});

test('LevelDeskStore: an empty location or a non-boolean queueSync is a TypeError', async () => {
  const assert = (await import('node:assert/strict')).default;
  assert.throws(() => new LevelDeskStore({ location: '' }), { name: 'TypeError', message: 'LevelDeskStore: location must be a non-empty string' });
  assert.throws(() => new LevelDeskStore({ location: 'never-created', queueSync: 1 as never }), { name: 'TypeError', message: 'LevelDeskStore: queueSync must be a boolean' });
});
