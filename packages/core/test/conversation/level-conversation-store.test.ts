import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { conversationStoreSuite } from '../../src/testing/conversation-store-suite.js';
import { LevelConversationStore } from '../../src/conversation/level-conversation-store.js';
import type { ConversationStore } from '../../src/conversation/conversation-store.js';

conversationStoreSuite({ test, describe }, {
  name: 'LevelConversationStore',
  factory: async () => new LevelConversationStore({ location: await mkdtemp(join(tmpdir(), 'kefu-conv-')) }),
  reopen: (closed: ConversationStore) => new LevelConversationStore({ location: (closed as LevelConversationStore).location }),
  cleanup: (s: ConversationStore) => rm((s as LevelConversationStore).location, { recursive: true, force: true }),
});

test('options are validated with exact messages', () => {
  assert.throws(() => new LevelConversationStore({ location: '' }), { name: 'TypeError', message: 'options.location must be a non-empty string' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', cacheSize: 0 }), { name: 'RangeError', message: 'options.cacheSize must be a positive integer' });
});

test('bounded caches: a cache of 2 conversations still assigns correct seqs for 20', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-conv-'));
  const s = new LevelConversationStore({ location: dir, cacheSize: 2 });
  try {
    const ids: string[] = [];
    for (let i = 0; i < 20; i++) ids.push((await s.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor' } })).id);
    for (let round = 1; round <= 3; round++) {
      const rs = await Promise.all(ids.map((id) => s.append(id, { cid: `r${round}`, from: { id: 'v', role: 'visitor' }, body: 'x' })));
      for (const r of rs) assert.equal(r.seq, round);
    }
    for (const id of ids) assert.equal(await s.lastSeq(id), 3);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('concurrent appends share synced batches (group commit)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-conv-'));
  const s = new LevelConversationStore({ location: dir });
  try {
    const { id } = await s.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor' } });
    const rs = await Promise.all(Array.from({ length: 300 }, (_, i) => s.append(id, { cid: `c${i}`, from: { id: 'v', role: 'visitor' }, body: 'x' })));
    assert.deepEqual(rs.map((r) => r.seq), Array.from({ length: 300 }, (_, i) => i + 1));
    assert.equal((await s.range(id, { after: 290 })).length, 10);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
