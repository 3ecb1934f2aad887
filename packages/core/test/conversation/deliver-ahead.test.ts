/**
 * LevelConversationStore's early delivery: `onVisible` before durability (bounded by
 * `deliverAhead`), the shown log that survives a process crash, and the seq fence after a crash
 * under another boot (a machine crash), which skips seqs instead of reusing them.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { LevelConversationStore } from '../../src/conversation/level-conversation-store.js';
import { runAndKill } from '../helpers/kill-child.js';

const from = { id: 'v1', role: 'visitor' as const };
const fixture = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'shown-child.ts');
const tempDir = (): Promise<string> => mkdtemp(join(tmpdir(), 'kefu-ahead-'));
/** A few turns of the event loop: early messages are shown at the end of the turn they were appended in. */
const turns = async (n = 3): Promise<void> => { for (let i = 0; i < n; i++) await new Promise((r) => setImmediate(r)); };

test('deliverAhead and commitIntervalMs are validated with exact messages', () => {
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', deliverAhead: -1 }), { name: 'RangeError', message: 'options.deliverAhead must be an integer from 0 to 1000000' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', deliverAhead: 1.5 }), { name: 'RangeError', message: 'options.deliverAhead must be an integer from 0 to 1000000' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', commitIntervalMs: -1 }), { name: 'RangeError', message: 'options.commitIntervalMs must be a number from 0 to 10000' });
  assert.throws(() => new LevelConversationStore({ location: '/tmp/x', commitIntervalMs: 10_001 }), { name: 'RangeError', message: 'options.commitIntervalMs must be a number from 0 to 10000' });
});

test('a message is shown before it is durable, readable at once, and shown once; a duplicate is not shown again', async () => {
  const dir = await tempDir();
  const s = new LevelConversationStore({ location: dir, commitIntervalMs: 200 });
  try {
    const { id } = await s.createConversation({ tenant: 't', visitor: from });
    await s.append(id, { cid: 'warm', from, body: 'loads the conversation' });
    const events: string[] = [];
    // The last batch just started the interval: this append waits about 200 ms for the next one.
    const p = s.append(id, { cid: 'a', from, body: 'hello' }, { onVisible: (seq) => events.push(`shown ${seq}`) });
    const durable = p.then((r) => { events.push(`durable ${r.seq}`); return r; });
    await turns();
    assert.deepEqual(events, ['shown 2'], 'shown before the batch is written');
    assert.deepEqual((await s.range(id)).map((m) => [m.seq, m.cid, m.body]), [[1, 'warm', 'loads the conversation'], [2, 'a', 'hello']], 'readable while unwritten');
    const r = await durable;
    assert.deepEqual(events, ['shown 2', 'durable 2']);
    const again = await s.append(id, { cid: 'a', from, body: 'hello' }, { onVisible: () => events.push('shown again') });
    assert.deepEqual(again, { seq: 2, ts: r.ts, dup: true });
    assert.deepEqual(events, ['shown 2', 'durable 2']);
    assert.deepEqual((await s.range(id)).map((m) => m.seq), [1, 2]);
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('at most deliverAhead messages past the durable seq are shown early; the rest once durable, all in seq order', async () => {
  const dir = await tempDir();
  const s = new LevelConversationStore({ location: dir, deliverAhead: 2, commitIntervalMs: 200 });
  try {
    const { id } = await s.createConversation({ tenant: 't', visitor: from });
    await s.append(id, { cid: 'warm', from, body: 'loads the conversation' });
    const shown: number[] = [];
    const all = Array.from({ length: 5 }, (_, i) => s.append(id, { cid: `c${i}`, from, body: String(i) }, { onVisible: (seq) => shown.push(seq) }));
    await turns();
    assert.deepEqual(shown, [2, 3], 'two ahead of the durable seq 1');
    assert.deepEqual((await s.range(id)).map((m) => m.seq), [1, 2, 3], 'only the shown ones are readable yet');
    await Promise.all(all);
    assert.deepEqual(shown, [2, 3, 4, 5, 6]);
    // Durable again: the next one is shown before its batch is written.
    const next = s.append(id, { cid: 'c5', from, body: '5' }, { onVisible: (seq) => shown.push(seq) });
    await turns();
    assert.equal(shown.at(-1), 7);
    await next;
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('deliverAhead 0 shows a message only once it is durable, and keeps no shown log', async () => {
  const dir = await tempDir();
  const s = new LevelConversationStore({ location: dir, deliverAhead: 0 });
  try {
    const { id } = await s.createConversation({ tenant: 't', visitor: from });
    let shownAt = -1;
    let resolved = false;
    const p = s.append(id, { cid: 'a', from, body: 'x' }, { onVisible: () => { shownAt = resolved ? 1 : 0; } });
    assert.equal(shownAt, -1);
    await p.then(() => { resolved = true; });
    assert.equal(shownAt, 0, 'shown when durable, just before the append resolves');
    await assert.rejects(stat(join(dir, 'KEFU-SHOWN-0.log')), { code: 'ENOENT' });
  } finally {
    await s.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a process killed with SIGKILL after showing messages it had not written loses none of them: the next open replays the shown log', { timeout: 60_000 }, async () => {
  const dir = await tempDir();
  try {
    const lines = await runAndKill(fixture, [dir, '20'], 300);
    const shown = lines.filter((l) => l.startsWith('shown ')).map((l) => l.split(' ') as [string, string, string]);
    assert.equal(shown.length, 20, 'the child showed every message before the kill');
    assert.equal(lines.filter((l) => l.startsWith('durable ')).length, 0, 'none was durable in LevelDB when killed (5 s commit interval)');
    assert.ok((await stat(join(dir, 'KEFU-SHOWN-0.log'))).size > 0, 'the shown log holds them');

    // Reopened without early delivery: the log is still replayed, then emptied.
    const s = new LevelConversationStore({ location: dir, deliverAhead: 0 });
    try {
      const stored = await s.range('conv-1', { limit: 100 });
      assert.equal((await stat(join(dir, 'KEFU-SHOWN-0.log'))).size, 0, 'replayed, then emptied');
      assert.deepEqual(stored.map((m) => [m.seq, m.cid]), [[1, 'first'], ...shown.map(([, seq, cid]) => [Number(seq), cid])]);
      // The same boot: no fence, the next seq follows on; a retry of a shown cid is a duplicate.
      assert.equal((await s.append('conv-1', { cid: 'after', from, body: 'x' })).seq, 22);
      assert.deepEqual(await s.append('conv-1', { cid: 'm3', from, body: 'retry' }), { seq: 5, ts: stored[4]!.ts, dup: true });
    } finally {
      await s.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('after an unclean stop under another boot, conversations written before it skip deliverAhead seqs, once; later ones do not', async () => {
  const dir = await tempDir();
  try {
    const s1 = new LevelConversationStore({ location: dir, deliverAhead: 8 });
    const { id: old1 } = await s1.createConversation({ id: 'old-1', tenant: 't', visitor: from });
    const { id: old2 } = await s1.createConversation({ id: 'old-2', tenant: 't', visitor: from });
    const { id: empty } = await s1.createConversation({ id: 'old-empty', tenant: 't', visitor: from });
    for (let i = 1; i <= 3; i++) await s1.append(old1, { cid: `a${i}`, from, body: 'x' });
    await s1.append(old2, { cid: 'b1', from, body: 'x' });
    await s1.close();
    // What a machine crash leaves: the run marker of a run that never closed, under another boot.
    const raw = new Level<string, string>(dir);
    await raw.put('x\x00run', JSON.stringify({ clean: false, deliverAhead: 8, boot: 'another-boot' }));
    await raw.close();
    await new Promise((r) => setTimeout(r, 5)); // the fence compares ms timestamps

    const s2 = new LevelConversationStore({ location: dir, deliverAhead: 4 });
    assert.equal((await s2.append(old1, { cid: 'a4', from, body: 'x' })).seq, 3 + 8 + 1, 'skips the crashed run\'s deliverAhead');
    assert.equal((await s2.append(old1, { cid: 'a5', from, body: 'x' })).seq, 13, 'then follows on');
    assert.equal((await s2.append(empty, { cid: 'e1', from, body: 'x' })).seq, 9, 'an empty conversation created before the crash is fenced too');
    const { id: fresh } = await s2.createConversation({ tenant: 't', visitor: from });
    assert.equal((await s2.append(fresh, { cid: 'f1', from, body: 'x' })).seq, 1, 'a conversation created after the crash is not');
    assert.equal(await s2.lastSeq(old2), 1 + 8, 'lastSeq counts the skipped seqs');
    await s2.close();

    // A clean run later: the conversation untouched since the crash still needs the fence; the
    // ones written since do not.
    const s3 = new LevelConversationStore({ location: dir });
    assert.equal((await s3.append(old2, { cid: 'b2', from, body: 'x' })).seq, 1 + 8 + 1);
    assert.equal((await s3.append(old1, { cid: 'a6', from, body: 'x' })).seq, 14);
    assert.equal((await s3.append(fresh, { cid: 'f2', from, body: 'x' })).seq, 2);
    assert.deepEqual((await s3.range(old1)).map((m) => m.seq), [1, 2, 3, 12, 13, 14]);
    await s3.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
