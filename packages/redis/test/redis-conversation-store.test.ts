import { test, describe } from 'node:test';
import { conversationStoreSuite } from '@kefu/core/testing';
import { Redis } from 'ioredis';
import { RedisBus, RedisConversationStore } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;
let n = 0;

// Each test gets its own key prefix: the suite's tests never see each other's data.
const prefixes = new WeakMap<object, string>();

/** Deletes the keys of the store's prefix. */
async function dropKeys(s: object): Promise<void> {
  const prefix = prefixes.get(s);
  if (!prefix) return;
  const c = new Redis(redis.url);
  const keys = await c.keys(`${prefix}*`);
  if (keys.length) await c.del(...keys);
  await c.quit();
}
if (!skip) {
  conversationStoreSuite({ test, describe }, {
    name: 'RedisConversationStore',
    factory: () => {
      const prefix = `t${++n}:`;
      const s = new RedisConversationStore(redis.url, { prefix });
      prefixes.set(s, prefix);
      return s;
    },
    reopen: (closed) => {
      const prefix = prefixes.get(closed)!;
      const s = new RedisConversationStore(redis.url, { prefix });
      prefixes.set(s, prefix);
      return s;
    },
    cleanup: dropKeys,
  });
  // The same suite with the store publishing inside its append script (`{ bus }`).
  const buses = new WeakMap<object, RedisBus>();
  const linked = (prefix: string): RedisConversationStore => {
    const bus = new RedisBus(redis.url, { prefix });
    const s = new RedisConversationStore(redis.url, { prefix, bus });
    prefixes.set(s, prefix);
    buses.set(s, bus);
    return s;
  };
  conversationStoreSuite({ test, describe }, {
    name: 'RedisConversationStore linked to a RedisBus',
    factory: () => linked(`l${++n}:`),
    reopen: (closed) => {
      void buses.get(closed)?.close();
      return linked(prefixes.get(closed)!);
    },
    cleanup: async (s) => {
      await buses.get(s)?.close();
      await dropKeys(s);
    },
  });
} else {
  test('RedisConversationStore conformance', { skip }, () => {});
}
