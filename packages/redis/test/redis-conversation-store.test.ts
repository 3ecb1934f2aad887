import { test, describe } from 'node:test';
import { conversationStoreSuite } from '@kefu/core/testing';
import { Redis } from 'ioredis';
import { RedisConversationStore } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;
let n = 0;

// Each test gets its own key prefix: the suite's tests never see each other's data.
const prefixes = new WeakMap<object, string>();
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
    cleanup: async (s) => {
      const prefix = prefixes.get(s);
      if (!prefix) return;
      const c = new Redis(redis.url);
      const keys = await c.keys(`${prefix}*`);
      if (keys.length) await c.del(...keys);
      await c.quit();
    },
  });
} else {
  test('RedisConversationStore conformance', { skip }, () => {});
}
