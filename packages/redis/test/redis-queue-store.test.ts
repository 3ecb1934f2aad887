import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { queueStoreSuite } from '@kefu/core/testing';
import { PriorityQueue } from '@kefu/core';
import { RedisQueueStore } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;
let n = 0;

if (!skip) {
  queueStoreSuite({ test, describe }, {
    name: 'RedisQueueStore',
    factory: () => {
      const name = `q${++n}`;
      return { store: new RedisQueueStore(redis.url, { name }), reopen: () => new RedisQueueStore(redis.url, { name }) };
    },
  });
}

test('two stores leasing from one queue never get the same item', { skip }, async () => {
  const a = new RedisQueueStore<{ i: number }>(redis.url, { name: 'shared' });
  const b = new RedisQueueStore<{ i: number }>(redis.url, { name: 'shared' });
  await a.open();
  await b.open();
  const now = Date.now();
  const N = 500;
  await a.push(Array.from({ length: N }, (_, i) => ({ id: `i${i}`, payload: { i }, priority: i % 5, orderKey: -(i % 5), enqueuedAt: now, availableAt: now, maxAttempts: 3 })));
  const seen = new Map<string, string>();
  const consume = async (store: RedisQueueStore<{ i: number }>, who: string) => {
    for (;;) {
      const got = await store.lease(7, Date.now(), 30_000);
      if (got.length === 0) return;
      for (const g of got) {
        assert.equal(seen.has(g.id), false, `${g.id} leased twice (${seen.get(g.id)} and ${who})`);
        seen.set(g.id, who);
        await store.ack(g.id, g.attempt, Date.now());
      }
    }
  };
  await Promise.all([consume(a, 'a'), consume(b, 'b'), consume(a, 'a2'), consume(b, 'b2')]);
  assert.equal(seen.size, N);
  assert.ok([...seen.values()].some((w) => w.startsWith('a')) && [...seen.values()].some((w) => w.startsWith('b')), 'both consumers got work');
  await a.close();
  await b.close();
});

test('a PriorityQueue runs on the Redis store (push, position, lease, ack)', { skip }, async () => {
  const q = new PriorityQueue<{ text: string }>({ store: new RedisQueueStore(redis.url, { name: 'pq' }) });
  await q.push({ text: 'normal' }, { id: 'n1', priority: 1 });
  await q.push({ text: 'vip' }, { id: 'v1', priority: 5 });
  assert.equal(await q.position('v1'), 1);
  assert.equal(await q.position('n1'), 2);
  const [first] = await q.lease(1);
  assert.equal(first?.id, 'v1');
  await q.ack(first!);
  await q.close();
});
