import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Slots } from '../../src/profile/slots.js';

test('Slots: a free slot is taken at once; beyond max, waiters are served first in, first out', async () => {
  const s = new Slots(2);
  assert.equal(s.tryTake(), true);
  assert.equal(s.tryTake(), true);
  assert.equal(s.tryTake(), false);
  const order: string[] = [];
  const a = s.wait();
  const b = s.wait();
  void a.promise.then(() => order.push('a'));
  void b.promise.then(() => order.push('b'));
  assert.equal(s.pending, 2);
  // Nobody jumps the queue: with waiters queued, a free slot goes to them, not to tryTake().
  s.release();
  assert.equal(s.tryTake(), false);
  s.release();
  await Promise.resolve();
  await Promise.resolve();
  assert.deepEqual(order, ['a', 'b']);
  assert.equal(s.active, 2, 'slots were handed over, not freed');
  assert.equal(s.pending, 0);
  s.release();
  s.release();
  assert.equal(s.active, 0);
});

test('Slots: a cancelled waiter is skipped, and a waiter cancelled after being handed a slot frees it', async () => {
  const s = new Slots(1);
  assert.equal(s.tryTake(), true);
  const gone = s.wait();
  const next = s.wait();
  s.cancel(gone);
  assert.equal(s.pending, 1);
  s.release();
  await next.promise;
  assert.equal(s.active, 1);
  // Handed the slot, then its call timed out before it could use it: the slot comes back.
  const late = s.wait();
  s.release();
  assert.equal(late.done, true);
  s.cancel(late);
  assert.equal(s.active, 0);
  assert.equal(s.tryTake(), true);
});

test('Slots: many cancelled waiters do not accumulate (bounded memory)', () => {
  const s = new Slots(1);
  s.tryTake();
  for (let i = 0; i < 5000; i++) s.cancel(s.wait());
  assert.equal(s.pending, 0);
  assert.equal((s as unknown as { queue: { size: number } }).queue.size, 0, 'the cancelled waiters were dropped, not kept');
  s.release();
  assert.equal(s.active, 0);
});
