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
