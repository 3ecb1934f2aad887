/**
 * RedisDeskStore on a real redis-server: the DeskStore conformance suite, the fence (a write
 * refused once another node holds the desk lock), option checks and an unreachable Redis.
 */
import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import { deskStoreSuite, sampleDeskConversation } from '@kefu/core/testing';
import type { DeskStore } from '@kefu/core';
import { RedisDeskStore } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile({ appendonly: false });
const { skip } = redis;
let n = 0;
const names = new WeakMap<DeskStore, string>();

if (!skip) {
  deskStoreSuite({ test, describe }, {
    name: 'RedisDeskStore',
    factory: () => {
      const name = `d${++n}`;
      const s = new RedisDeskStore(redis.url, { name });
      names.set(s, name);
      return s;
    },
    reopen: (closed) => {
      const name = names.get(closed)!;
      const s = new RedisDeskStore(redis.url, { name });
      names.set(s, name);
      return s;
    },
  });
}

test('fenced writes: applied while the lock holds this node\'s token, refused with KEFU_ERR_DESK_FENCED once it does not', { skip }, async () => {
  let token: string | undefined = 'f1:node-a';
  const s = new RedisDeskStore(redis.url, { name: 'fenced', fence: () => token });
  const r = new Redis(redis.url);
  try {
    await s.open();
    await r.set(s.lockKey, 'f1:node-a');
    await s.write([{ type: 'conversation', value: sampleDeskConversation() }]);
    assert.equal((await s.get('t1', 'c1'))?.state, 'waiting');

    await r.set(s.lockKey, 'f2:node-b'); // another node took over
    await assert.rejects(s.write([{ type: 'conversation', value: sampleDeskConversation({ state: 'assigned', agentId: 'a1' }) }]), { code: 'KEFU_ERR_DESK_FENCED' });
    assert.equal((await s.get('t1', 'c1'))?.state, 'waiting', 'nothing of the refused write was applied');

    token = undefined; // this node knows it holds no lock
    await assert.rejects(s.write([{ type: 'agent', tenant: 't1', id: 'a1', value: { capacity: 2 } }]), { code: 'KEFU_ERR_DESK_FENCED' });
    assert.deepEqual(await s.loadAgents(), []);
  } finally {
    await s.close();
    r.disconnect();
  }
});

test('a closed conversation expires from history after historyTtlMs; the open record is gone at once', { skip }, async () => {
  const s = new RedisDeskStore(redis.url, { name: 'hist', historyTtlMs: 200 });
  try {
    await s.open();
    await s.write([{ type: 'conversation', value: sampleDeskConversation() }]);
    await s.write([{ type: 'conversation', value: sampleDeskConversation({ state: 'closed', closedAt: 2_000 }) }]);
    assert.deepEqual(await s.loadActive(), []);
    assert.equal((await s.get('t1', 'c1'))?.state, 'closed');
    const end = Date.now() + 5_000;
    while ((await s.get('t1', 'c1')) !== undefined) {
      assert.ok(Date.now() < end, 'history did not expire');
      await new Promise((res) => setTimeout(res, 50));
    }
  } finally {
    await s.close();
  }
});

test('each tenant\'s waiting line is a RedisQueueStore named after the desk; long tenant ids are hashed', { skip }, async () => {
  const s = new RedisDeskStore(redis.url, { name: 'queues' });
  try {
    await s.open();
    const short = s.queueStore('t1');
    const long = s.queueStore('t'.repeat(100));
    await short.open();
    await long.open();
    const now = Date.now();
    await short.push([{ id: 'c1', payload: { conv: 'c1' } as never, priority: 0, orderKey: 0, enqueuedAt: now, availableAt: now, maxAttempts: 1 }]);
    assert.equal((await short.counts()).ready, 1);
    assert.equal((await long.counts()).ready, 0, 'tenants do not share a line');
  } finally {
    await s.close();
  }
});

test('options: name and historyTtlMs are checked with exact messages', () => {
  assert.throws(() => new RedisDeskStore('redis://127.0.0.1:1', { name: 'x'.repeat(41) }), { name: 'TypeError', message: 'options.name must be at most 40 characters (it also names the waiting lines)' });
  assert.throws(() => new RedisDeskStore('redis://127.0.0.1:1', { name: 'a b' }), { name: 'TypeError', message: 'options.name must be 1-128 characters of letters, digits, _ . : -' });
  assert.throws(() => new RedisDeskStore('redis://127.0.0.1:1', { historyTtlMs: 0 }), { name: 'RangeError', message: 'options.historyTtlMs must be an integer >= 1' });
  assert.throws(() => new RedisDeskStore('redis://127.0.0.1:1', { fence: 'x' as never }), { name: 'TypeError', message: 'options.fence must be a function returning the lock token' });
});

test('Redis unreachable: open rejects with KEFU_ERR_STORE', async () => {
  const s = new RedisDeskStore({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await assert.rejects(s.open(), (err: Error & { code?: string }) => err.code === 'KEFU_ERR_STORE' && /redis desk store/.test(err.message));
  } finally {
    await s.close();
  }
});
