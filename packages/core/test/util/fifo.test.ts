import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Fifo } from '../../src/util/fifo.js';

test('Fifo: first in, first out through push, shift, take, dropWhile and drain', () => {
  const q = new Fifo<number>();
  assert.equal(q.shift(), undefined);
  assert.equal(q.peek(), undefined);
  for (let i = 0; i < 10; i++) q.push(i);
  assert.equal(q.size, 10);
  assert.equal(q.peek(), 0);
  assert.equal(q.shift(), 0);
  assert.deepEqual(q.take(3), [1, 2, 3]);
  q.dropWhile((x) => x < 6);
  assert.equal(q.peek(), 6);
  assert.deepEqual(q.take(100), [6, 7, 8, 9], 'take stops at the end');
  assert.equal(q.size, 0);
  q.push(42);
  assert.deepEqual(q.drain(), [42]);
  assert.equal(q.size, 0);
});

test('Fifo: a long run of pushes and shifts keeps order and compacts (the consumed prefix is not kept)', () => {
  const q = new Fifo<number>();
  let next = 0;
  let expect = 0;
  for (let round = 0; round < 50; round++) {
    for (let i = 0; i < 1000; i++) q.push(next++);
    for (let i = 0; i < 900; i++) assert.equal(q.shift(), expect++);
  }
  assert.equal(q.size, next - expect);
  // What a consumer sees after compaction is still the unconsumed tail, in order.
  assert.deepEqual(q.drain(), Array.from({ length: next - expect }, (_, i) => expect + i));
});
