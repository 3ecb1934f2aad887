import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Level } from 'level';
import { GroupCommitWriter, type BatchOp, type BatchTarget } from '../../src/storage/index.js';

test('concurrent writes share batches and are all on disk when they resolve', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-gc-'));
  const db = new Level<string, string>(dir);
  await db.open();
  let batches = 0;
  const target: BatchTarget = { batch: (ops, o) => { batches++; return db.batch(ops, o); } };
  const w = new GroupCommitWriter(target);
  await Promise.all(Array.from({ length: 500 }, (_, i) => w.write([{ type: 'put', key: `k${String(i).padStart(4, '0')}`, value: `v${i}` }])));
  assert.ok(batches < 50, `expected few batches, got ${batches}`);
  const keys = await db.keys().all();
  assert.equal(keys.length, 500);
  await w.close();
  await assert.rejects(w.write([{ type: 'del', key: 'k0000' }]), { code: 'KEFU_ERR_CLOSED' });
  await db.close();
  await rm(dir, { recursive: true, force: true });
});

test('a failed batch rejects its writers with KEFU_ERR_STORE and later batches still run', async () => {
  let fail = true;
  const seen: BatchOp[][] = [];
  const w = new GroupCommitWriter({
    batch: async (ops) => { seen.push(ops); if (fail) { fail = false; throw new Error('EIO'); } },
  });
  await assert.rejects(w.write([{ type: 'put', key: 'a', value: '1' }]), (e: { code?: string; cause?: Error }) => e.code === 'KEFU_ERR_STORE' && e.cause?.message === 'EIO');
  await w.write([{ type: 'put', key: 'b', value: '2' }]);
  assert.equal(seen.length, 2);
});

test('one writer\'s ops are never split across batches', async () => {
  const sizes: number[] = [];
  const w = new GroupCommitWriter({ batch: async (ops) => { sizes.push(ops.length); } }, { maxBatchOps: 3 });
  const two: BatchOp[] = [{ type: 'del', key: 'x' }, { type: 'del', key: 'y' }];
  await Promise.all([w.write(two), w.write(two), w.write(two)]);
  assert.deepEqual(sizes, [2, 2, 2]);
  assert.throws(() => new GroupCommitWriter({ batch: async () => {} }, { maxBatchOps: 0 }), RangeError);
});

test('intervalMs spaces batch starts: writes arriving inside the interval wait and share the next batch', async () => {
  const starts: number[] = [];
  const sizes: number[] = [];
  const w = new GroupCommitWriter({ batch: async (ops) => { starts.push(performance.now()); sizes.push(ops.length); } }, { intervalMs: 100 });
  await w.write([{ type: 'del', key: 'first' }]);
  // Three writes, one per turn of the event loop, all inside the 100 ms after the first batch.
  const later: Array<Promise<void>> = [];
  for (let i = 0; i < 3; i++) {
    later.push(w.write([{ type: 'del', key: `k${i}` }]));
    await new Promise((r) => setImmediate(r));
  }
  await Promise.all(later);
  assert.deepEqual(sizes, [1, 3]);
  assert.ok(starts[1]! - starts[0]! >= 90, `second batch started ${starts[1]! - starts[0]!} ms after the first`);
  await w.close();
  assert.throws(() => new GroupCommitWriter({ batch: async () => {} }, { intervalMs: -1 }), { name: 'RangeError', message: 'intervalMs must be a number from 0 to 10000' });
});
