import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { conversationStoreSuite } from '../../src/testing/conversation-store-suite.js';
import { LevelConversationStore } from '../../src/conversation/level-conversation-store.js';
import type { ConversationStore } from '../../src/conversation/conversation-store.js';
import { COLLIDING } from './fixtures/colliding-cids.js';

conversationStoreSuite({ test, describe }, {
  name: 'LevelConversationStore',
  factory: async () => new LevelConversationStore({ location: await mkdtemp(join(tmpdir(), 'kefu-conv-')) }),
  reopen: (closed: ConversationStore) => new LevelConversationStore({ location: (closed as LevelConversationStore).location }),
  cleanup: (s: ConversationStore) => rm((s as LevelConversationStore).location, { recursive: true, force: true }),
});

test('options are validated with exact messages', () => {
  assert.throws(() => new LevelConversationStore({ location: '' }), { name: 'TypeError', message: 'options.location must be a non-empty string' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', cacheSize: 0 }), { name: 'RangeError', message: 'options.cacheSize must be a positive integer' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', recentCids: -1 }), { name: 'RangeError', message: 'options.recentCids must be a non-negative integer' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', writeBufferSize: 1000 }), { name: 'RangeError', message: 'options.writeBufferSize must be an integer >= 65536' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', recentCids: 10, maxCachedCids: 10 }), { name: 'RangeError', message: 'options.maxCachedCids must be an integer greater than recentCids' });
});

test('maxCachedCids bounds the cids held over all conversations; evicted ones still dedupe from disk with their original ts', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-conv-'));
  const from = { id: 'v', role: 'visitor' as const };
  // Room for about two conversations of 4 messages: the third evicts the least recently used.
  const s = new LevelConversationStore({ location: dir, recentCids: 4, maxCachedCids: 10 });
  try {
    const ids: string[] = [];
    const firsts = [];
    for (let c = 0; c < 3; c++) {
      const { id } = await s.createConversation({ tenant: 't', visitor: from });
      ids.push(id);
      for (let i = 1; i <= 4; i++) {
        const r = await s.append(id, { cid: `c${i}`, from, body: `m${i}` });
        if (i === 1) firsts.push(r);
      }
    }
    for (const [c, id] of ids.entries()) {
      assert.deepEqual(await s.append(id, { cid: 'c1', from, body: 'again' }), { ...firsts[c]!, dup: true });
      assert.equal((await s.append(id, { cid: 'c5', from, body: 'new' })).seq, 5);
    }
    for (const id of ids) assert.deepEqual((await s.range(id, { limit: 10 })).map((m) => m.body), ['m1', 'm2', 'm3', 'm4', 'new']);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('recentCids bounds the in-memory cid index; older cids are still found on disk, before and after a reopen', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-conv-'));
  const from = { id: 'v', role: 'visitor' as const };
  let s = new LevelConversationStore({ location: dir, recentCids: 2 });
  try {
    const small = await s.createConversation({ tenant: 't', visitor: from });
    const { id } = await s.createConversation({ tenant: 't', visitor: from });
    const first = await s.append(small.id, { cid: 'only', from, body: 'x' });
    for (let i = 1; i <= 5; i++) await s.append(id, { cid: `c${i}`, from, body: `m${i}` });
    assert.equal((await s.append(id, { cid: 'c1', from, body: 'again' })).dup, true, 'evicted from memory, found on disk');
    assert.equal((await s.append(id, { cid: 'c5', from, body: 'again' })).seq, 5);
    await s.close();
    s = new LevelConversationStore({ location: dir, recentCids: 2 });
    assert.deepEqual(await s.append(id, { cid: 'c3', from, body: 'again' }), { seq: 3, ts: (await s.range(id, { after: 2, limit: 1 }))[0]!.ts, dup: true });
    assert.deepEqual(await s.append(small.id, { cid: 'only', from, body: 'again' }), { ...first, dup: true }, 'small conversation: index loaded whole');
    assert.equal((await s.append(id, { cid: 'c6', from, body: 'new' })).seq, 6);
    assert.equal((await s.range(id, { limit: 100 })).length, 6);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a new cid whose hash an earlier cid shares is stored as new (the disk decides), and both dedupe after', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-conv-'));
  const from = { id: 'v', role: 'visitor' as const };
  const s = new LevelConversationStore({ location: dir });
  try {
    const { id } = await s.createConversation({ tenant: 't', visitor: from });
    const a = await s.append(id, { cid: COLLIDING[0], from, body: 'first' });
    const b = await s.append(id, { cid: COLLIDING[1], from, body: 'second' });
    assert.deepEqual([a.seq, a.dup, b.seq, b.dup], [1, false, 2, false]);
    assert.deepEqual(await s.append(id, { cid: COLLIDING[0], from, body: 'retry' }), { ...a, dup: true });
    assert.deepEqual(await s.append(id, { cid: COLLIDING[1], from, body: 'retry' }), { ...b, dup: true });
    assert.deepEqual((await s.range(id, { limit: 10 })).map((m) => m.body), ['first', 'second']);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
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
    // Three appends per conversation at once: the LRU evicts states whose appends are still
    // pending, which must stay pinned (a state reloaded from disk meanwhile would reuse seqs).
    const burst = await Promise.all(ids.flatMap((id) => [0, 1, 2].map((k) => s.append(id, { cid: `b${k}`, from: { id: 'v', role: 'visitor' }, body: 'y' }).then((r) => ({ id, r })))));
    for (const id of ids) {
      assert.deepEqual(burst.filter((x) => x.id === id).map((x) => x.r.seq).sort((a, b) => a - b), [4, 5, 6]);
      assert.deepEqual((await s.range(id)).map((m) => m.seq), [1, 2, 3, 4, 5, 6]);
    }
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

test('a failed batch write rejects with KEFU_ERR_STORE and stores nothing; the same cid is stored on a retry and dedupes after', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-conv-'));
  const from = { id: 'v', role: 'visitor' as const };
  // The fault goes into LevelDB's own batch write (classic-level's ChainedBatch, the one the store uses).
  const proto = (createRequire(import.meta.url)('classic-level/chained-batch.js') as { ChainedBatch: { prototype: { _write(options: unknown): Promise<void> } } }).ChainedBatch.prototype;
  const write = proto._write;
  const s = new LevelConversationStore({ location: dir });
  try {
    const { id } = await s.createConversation({ tenant: 't', visitor: from });
    const a = await s.append(id, { cid: 'a', from, body: 'first' });
    proto._write = async () => { throw new Error('injected: no space left on device'); };
    await assert.rejects(s.append(id, { cid: 'b', from, body: 'lost' }, { onVisible: () => {} }), { code: 'KEFU_ERR_STORE' });
    proto._write = write;
    const b = await s.append(id, { cid: 'b', from, body: 'second' }, { onVisible: () => {} });
    assert.equal(b.dup, false);
    assert.ok(b.seq > a.seq);
    assert.deepEqual(await s.append(id, { cid: 'b', from, body: 'retry' }), { ...b, dup: true });
    assert.deepEqual((await s.range(id, { limit: 10 })).map((m) => m.body), ['first', 'second']);
  } finally {
    proto._write = write;
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});
