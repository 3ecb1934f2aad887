import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import type { KefuError } from '@kefu/protocol';
import { PriorityQueue } from '../../src/queue/priority-queue.js';
import { LevelQueueStore } from '../../src/queue/level-queue-store.js';
import { decodeIdValue, decodeItemKey, decodeOrderKey, encodeIdValue, encodeOrderKey, encodeSeq, itemKey, itemPrefix } from '../../src/queue/level-keys.js';

const code = (c: string) => (err: unknown): boolean => { assert.equal((err as KefuError).code, c); return true; };

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-queue-lvl-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

test('order keys encode to hex that sorts like the numbers', () => {
  const xs = [-1e9, -5, -1.5, -Number.MIN_VALUE, 0, -0, Number.MIN_VALUE, 0.25, 3, 2.9e7, 1e15];
  const enc = xs.map(encodeOrderKey);
  for (let i = 1; i < xs.length; i++) assert.ok(enc[i - 1]! <= enc[i]!, `${xs[i - 1]} sorts before ${xs[i]}`);
  for (const x of xs) assert.equal(decodeOrderKey(encodeOrderKey(x)), x + 0);
  assert.ok(itemKey(-5, 2, 9, 'zz') < itemKey(-5, 10, 1, 'a'));
  assert.ok(itemKey(-5, 0xffffff, 65535, 'z') < itemKey(-4, 0, 1, 'a'));
  assert.ok(itemKey(-5, 2, 3, 'id').startsWith(itemPrefix(-5, 2)));
  // Built in scratch bytes: the same text as the concatenated prefix + maxAttempts + id, also for
  // a long id (the scratch grows) and an id outside ASCII (the concatenation fallback).
  for (const [k, seq, m, id] of [[-2.5, 2 ** 40 + 5, 65535, 'conv:1 2'], [1.7e9, 3, 1, 'x'.repeat(255)], [0, 9, 2, 'caf\u00e9\u5ba2']] as const) {
    assert.equal(itemKey(k, seq, m, id), itemPrefix(k, seq) + m.toString(16).padStart(4, '0') + id);
  }
  assert.deepEqual(decodeItemKey(itemKey(-2.5, 2 ** 40 + 5, 65535, 'conv:1 2')), { orderKey: -2.5, seq: 2 ** 40 + 5, maxAttempts: 65535, id: 'conv:1 2' });
  assert.equal(decodeItemKey(itemPrefix(-2.5, 7)), undefined);
  for (const seq of [0, 255, 2 ** 32 - 1, 2 ** 32, 2 ** 40 + 5, 2 ** 48 - 1]) {
    assert.equal(encodeSeq(seq), seq.toString(16).padStart(12, '0'));
    assert.deepEqual(decodeIdValue(encodeIdValue(-2.5, seq, 7)), { orderKey: -2.5, seq, maxAttempts: 7 });
  }
});

test('options: exact TypeError / RangeError messages', () => {
  assert.throws(() => new LevelQueueStore({}), { name: 'TypeError', message: 'location must be a non-empty string' });
  assert.throws(() => new LevelQueueStore({ location: 'x', db: new Level<string, string>('/nonexistent-kefu') }), { name: 'TypeError', message: 'pass either location or db, not both' });
  assert.throws(() => new LevelQueueStore({ location: 'x', sync: 'yes' as never }), { name: 'TypeError', message: 'sync must be a boolean' });
  assert.throws(() => new LevelQueueStore({ location: 'x', compactEvery: -1 }), { name: 'RangeError', message: 'compactEvery must be an integer >= 0' });
  assert.throws(() => new LevelQueueStore({ location: 'x', initialCapacity: 0 }), { name: 'RangeError', message: 'initialCapacity must be a positive integer' });
  assert.throws(() => new LevelQueueStore({ location: 'x', maxBatchOps: 0 }), { name: 'RangeError', message: 'maxBatchOps must be a positive integer' });
  assert.throws(() => new LevelQueueStore({ location: 'x', cacheBytes: -1 }), { name: 'RangeError', message: 'cacheBytes must be an integer >= 0' });
  assert.throws(() => new LevelQueueStore({ location: 'x', reopenAfterRecovery: 1.5 }), { name: 'RangeError', message: 'reopenAfterRecovery must be an integer >= 0' });
  assert.throws(() => new LevelQueueStore(null as never), { name: 'TypeError', message: 'options must be an object' });
});

test('a second process (or store) on the same directory fails to open with KEFU_ERR_STORE', () => withDir(async (dir) => {
  const a = new LevelQueueStore({ location: dir });
  await a.open();
  const b = new LevelQueueStore({ location: dir });
  await assert.rejects(b.open(), code('KEFU_ERR_STORE'));
  await a.close();
}));

test('an I/O error surfaces as an error event and a rejected call, and leaves nothing half written', () => withDir(async (dir) => {
  const db = new Level<string, string>(dir);
  const q = new PriorityQueue<string>({ store: new LevelQueueStore({ db }) });
  const errors: KefuError[] = [];
  q.on('error', (e) => errors.push(e));
  await q.push('keep', { id: 'keep', priority: 1 });
  await q.push('other', { id: 'other', priority: 0 });

  // Fail every batch write from now on.
  const realBatch = db.batch.bind(db);
  let failing = true;
  (db as unknown as { batch: unknown }).batch = (...args: unknown[]) => {
    if (args.length > 0 || !failing) return (realBatch as (...a: unknown[]) => unknown)(...args);
    const chained = realBatch();
    chained.write = async () => { await chained.close(); throw new Error('EIO: disk on fire'); };
    return chained;
  };

  await assert.rejects(q.push('lost', { id: 'lost' }), code('KEFU_ERR_STORE'));
  assert.equal(await q.get('lost'), undefined);
  await assert.rejects(q.lease(1), code('KEFU_ERR_STORE'));
  assert.equal(q.counts().ready, 2, 'a failed lease puts its items back');
  assert.equal(await q.position('keep'), 1);

  failing = false;
  const [l] = await q.lease(1);
  assert.equal(l!.id, 'keep');
  failing = true;
  await assert.rejects(q.ack(l!), code('KEFU_ERR_STORE'));
  assert.equal((await q.get('keep'))?.state, 'leased', 'a failed ack keeps the lease');
  await assert.rejects(q.remove('other'), code('KEFU_ERR_STORE'));
  assert.equal(q.counts().ready, 1);
  assert.ok(errors.length >= 4);
  assert.ok(errors.every((e) => e.code === 'KEFU_ERR_STORE'));
  assert.match(String((errors[0]!.cause as Error | undefined)?.message ?? errors[0]!.message), /EIO/);

  failing = false;
  await q.ack(l!);
  await q.close();

  const q2 = new PriorityQueue<string>({ store: new LevelQueueStore({ location: dir }) });
  assert.deepEqual((await q2.peek(5)).map((i) => i.id), ['other']);
  await q2.close();
}));

test('delayed items are rescheduled on reopen and the timer promotes them', () => withDir(async (dir) => {
  const q = new PriorityQueue<string>({ store: new LevelQueueStore({ location: dir }) });
  await q.push('d', { id: 'd', delay: 150 });
  await q.close();
  const q2 = new PriorityQueue<string>({ store: new LevelQueueStore({ location: dir }) });
  await q2.open();
  assert.equal(q2.counts().delayed, 1);
  const got = await new Promise<string>((resolve) => {
    void (async () => {
      for await (const l of q2.iterate()) { await q2.ack(l); resolve(l.id); break; }
    })();
  });
  assert.equal(got, 'd');
  await q2.close();
}));

test('acked items are compacted away: the item range holds no live keys and shrinks on disk', () => withDir(async (dir) => {
  const store = new LevelQueueStore<string>({ location: dir, compactEvery: 500, sync: false });
  const q = new PriorityQueue<string>({ store });
  const body = 'y'.repeat(1000);
  for (let round = 0; round < 3; round++) {
    await q.pushMany(Array.from({ length: 500 }, (_, i) => ({ payload: body, priority: i % 5 })));
    for (;;) {
      const ls = await q.lease(100);
      if (ls.length === 0) break;
      await Promise.all(ls.map((l) => q.ack(l)));
    }
  }
  await new Promise((r) => setTimeout(r, 200));
  const keys = await store.db.keys({ gt: 'i!', lt: 'i"' }).all();
  assert.equal(keys.length, 0);
  const size = await (store.db as unknown as { approximateSize(a: string, b: string): Promise<number> }).approximateSize('i!', 'i"');
  assert.ok(size < 500 * 1000, `item range still holds ${size} bytes after compaction`);
  await q.close();
}));

test('the pushed-row cache is bounded: leases beyond it read the rows back from disk', () => withDir(async (dir) => {
  // Each row is about 1,060 bytes of JSON: a 5,000-byte cache holds 4 of the 20.
  const q = new PriorityQueue<{ n: number; pad: string }>({ store: new LevelQueueStore({ location: dir, cacheBytes: 5000 }), agingRate: 0 });
  await q.pushMany(Array.from({ length: 20 }, (_, n) => ({ id: `r${n}`, payload: { n, pad: 'p'.repeat(1000) } })));
  const got = await q.lease(20);
  assert.deepEqual(got.map((l) => l.payload.n), Array.from({ length: 20 }, (_, n) => n));
  assert.ok(got.every((l) => l.payload.pad.length === 1000));
  await Promise.all(got.map((l) => q.ack(l)));
  assert.equal(q.size, 0);
  await q.close();
}));

test('the row cache is emptied once the ready backlog holds four times cacheBytes of rows, and leases still read every row', () => withDir(async (dir) => {
  // Rows of about 1,190 bytes (JSON + 160 of overhead) and a 12,000-byte cache: a row is cached
  // while at most 10 items are ready, and the cache is emptied once more than about 40 are.
  const store = new LevelQueueStore<string>({ location: dir, cacheBytes: 12_000, sync: false });
  const q = new PriorityQueue<string>({ store, agingRate: 0 });
  await q.push('a'.repeat(1000), { id: 'a0' });
  assert.ok(store.cachedBytes > 1000, 'a row pushed onto a short backlog is cached');
  for (let i = 0; i < 9; i++) await q.push('b'.repeat(1000), { id: `b${i}` });
  const held = store.cachedBytes;
  assert.ok(held > 9 * 1000 && held <= 12_000, `cache holds the first rows (${held} bytes)`);
  await q.pushMany(Array.from({ length: 25 }, (_, i) => ({ id: `c${i}`, payload: 'c'.repeat(1000) })));
  assert.equal(store.cachedBytes, held, 'behind a backlog larger than the cache, new rows are not cached');
  await q.pushMany(Array.from({ length: 10 }, (_, i) => ({ id: `d${i}`, payload: 'd'.repeat(1000) })));
  assert.equal(store.cachedBytes, 0, 'the cache is emptied behind a backlog four times its size');
  const got = await q.lease(100);
  assert.equal(got.length, 45);
  assert.deepEqual(got.slice(0, 2).map((l) => l.id), ['a0', 'b0']);
  assert.ok(got.every((l) => l.payload.length === 1000 && l.payload[0] === l.id[0]));
  await q.close();
}));

test('a reopened store serves a large mixed backlog in the same order, with the same positions', () => withDir(async (dir) => {
  const make = () => new PriorityQueue<number>({ store: new LevelQueueStore({ location: dir, sync: false }), agingRate: 0 });
  const q = make();
  await q.pushMany(Array.from({ length: 3000 }, (_, n) => ({ id: `z${(n * 7919) % 3000}`, payload: n, priority: (n * 31) % 7 })));
  await q.lease(100); // leased: they come back first within their priority, attempts counted
  const before = await q.peek(1000);
  await q.close();
  const q2 = make();
  await q2.open();
  assert.equal(q2.counts().ready, 3000);
  const after = await q2.peek(1000);
  const leasedBack = after.filter((i) => i.attempts === 1).length;
  assert.equal(leasedBack, 100);
  const notLeased = after.filter((i) => i.attempts === 0).map((i) => i.id);
  assert.deepEqual(notLeased, before.map((i) => i.id).slice(0, notLeased.length));
  for (const [i, item] of after.entries()) if (i % 50 === 0) assert.equal(await q2.position(item.id), i + 1);
  await q2.close();
}));

test('one lease record per lease() call, deleted with the last settle; on reopen the newer of record and marker counts', () => withDir(async (dir) => {
  const make = () => new PriorityQueue<string>({ store: new LevelQueueStore({ location: dir, sync: false }), agingRate: 0, visibilityMs: 60_000 });
  const keys = async (q: PriorityQueue<string>, prefix: string) => (q.store as LevelQueueStore<string>).db.keys({ gt: `${prefix}!`, lt: `${prefix}"` }).all();
  const q = make();
  await q.pushMany(['a', 'b', 'c'].map((id) => ({ id, payload: id })));
  const ls = await q.lease(3);
  assert.equal((await keys(q, 'l')).length, 1, 'one record for the three leases');
  assert.equal((await keys(q, 'm')).length, 0, 'no marker per leased item');
  await q.ack(ls[0]!);
  await q.ack(ls[1]!);
  assert.equal((await keys(q, 'l')).length, 1, 'c still points at the record');
  await q.nack(ls[2]!, { delayMs: 0 });
  assert.equal((await keys(q, 'l')).length, 0, 'the last reference gone, the record is deleted with the nack');
  const [c2] = await q.lease(1);
  assert.equal(c2!.attempt, 2);

  // d dies by expiry and is requeued while e (same record) is still leased: the record survives,
  // so the requeue writes a marker that must outrank it on reopen.
  await q.pushMany([{ id: 'd', payload: 'd', maxAttempts: 1 }, { id: 'e', payload: 'e' }]);
  const de = await q.lease(2, { visibilityMs: 20 });
  assert.deepEqual(de.map((l) => l.id), ['d', 'e']);
  await new Promise((r) => setTimeout(r, 40));
  await q.position('x'); // runs the due sweep: d dead (1 of 1 attempts), e ready again
  assert.equal((await q.get('d'))?.state, 'dead');
  await q.requeue('d');
  assert.equal((await q.get('d'))?.attempts, 0);
  await q.close();

  const q2 = make();
  await q2.open();
  const byId = new Map((await q2.peek(10)).map((i) => [i.id, i]));
  assert.deepEqual([...byId.keys()].sort(), ['c', 'd', 'e']);
  assert.equal(byId.get('c')!.attempts, 2, 'leased after its nack marker: the record wins');
  assert.equal(byId.get('d')!.attempts, 0, 'requeued after its lease: the marker wins');
  assert.equal(byId.get('e')!.attempts, 1, 'expired lease: its attempt stays counted');
  // Settling everything leaves no record, marker or row behind.
  for (const l of await q2.lease(3)) await q2.ack(l);
  for (const p of ['i', 'l', 'm']) assert.deepEqual(await keys(q2, p), [], `${p}! is empty`);
  await q2.close();
}));

test('a database of the older layout (k! index, JSON rows, per-item lease markers) is migrated on open', () => withDir(async (dir) => {
  const db = new Level<string, string>(dir);
  await db.open();
  const rows: Array<[id: string, priority: number, payload: unknown, seq: number]> = [['old-a', 2, 'pa', 0], ['old-b', 1, { n: 1 }, 1], ['old-c', 1, 'pc', 2]];
  for (const [id, priority, payload, seq] of rows) {
    await db.put(itemPrefix(-priority, seq), JSON.stringify([id, priority, 1000, 5, payload]));
    await db.put(`k!${id}`, encodeIdValue(-priority, seq, 5));
  }
  await db.put('m!old-b', 'l:1:99999'); // leased under the old layout
  await db.put(itemPrefix(-9, 7), JSON.stringify(['stray', 9, 1, 5, 'never indexed']));
  await db.close();

  const q = new PriorityQueue<unknown>({ store: new LevelQueueStore({ location: dir }), agingRate: 0 });
  await q.open();
  const items = await q.peek(10);
  assert.deepEqual(items.map((i) => [i.id, i.payload, i.attempts]), [['old-a', 'pa', 0], ['old-b', { n: 1 }, 1], ['old-c', 'pc', 0]]);
  const db2 = (q.store as LevelQueueStore<unknown>).db;
  assert.deepEqual(await db2.keys({ gt: 'k!', lt: 'k"' }).all(), []);
  assert.deepEqual((await db2.keys({ gt: 'i!', lt: 'i"' }).all()).map((k) => decodeItemKey(k)?.id), ['old-a', 'old-b', 'old-c']);
  await q.push('new', { id: 'new', priority: 1 });
  assert.equal(await q.position('new'), 4, 'sequences continue after the migrated ones');
  await q.close();
}));

test('a store that reopens its database after recovery keeps its items, its lock and its sequence', () => withDir(async (dir) => {
  const make = () => new PriorityQueue<string>({ store: new LevelQueueStore({ location: dir, reopenAfterRecovery: 2 }), agingRate: 0 });
  const q = make();
  await q.pushMany(['a', 'b', 'c'].map((id) => ({ id, payload: `p-${id}` })));
  await q.lease(1);
  await q.close();
  const q2 = make();
  await q2.open(); // 3 items >= 2: recovered, then closed and reopened underneath
  assert.equal(q2.store.status, 'open');
  await assert.rejects(new LevelQueueStore({ location: dir }).open(), code('KEFU_ERR_STORE'), 'the reopened database holds its lock again');
  assert.deepEqual((await q2.peek(3)).map((i) => [i.id, i.attempts]), [['a', 1], ['b', 0], ['c', 0]]);
  await q2.push('p-d', { id: 'd' });
  assert.equal(await q2.position('d'), 4);
  for (const l of await q2.lease(4)) await q2.ack(l);
  assert.equal(q2.size, 0);
  await q2.close();
}));
