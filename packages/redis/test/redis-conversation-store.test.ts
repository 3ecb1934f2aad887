import { test, describe, before, after } from 'node:test';
import { conversationStoreSuite, findBinary, startRedisServer, type RedisServerHandle } from '@kefu/core/testing';
import { Redis } from 'ioredis';
import { RedisConversationStore } from '../src/index.js';

const bin = findBinary('redis-server');
const skip = 'skip' in bin ? bin.skip : false;
let redis: RedisServerHandle | undefined;
let n = 0;

before(async () => { if (!skip) redis = await startRedisServer(); });
after(async () => { await redis?.stop(); });

// Each test gets its own key prefix: the suite's tests never see each other's data.
const prefixes = new WeakMap<object, string>();
if (!skip) {
  conversationStoreSuite({ test, describe }, {
    name: 'RedisConversationStore',
    factory: () => {
      const prefix = `t${++n}:`;
      const s = new RedisConversationStore(redis!.url, { prefix });
      prefixes.set(s, prefix);
      return s;
    },
    reopen: (closed) => {
      const prefix = prefixes.get(closed)!;
      const s = new RedisConversationStore(redis!.url, { prefix });
      prefixes.set(s, prefix);
      return s;
    },
    cleanup: async (s) => {
      const prefix = prefixes.get(s);
      if (!prefix) return;
      const c = new Redis(redis!.url);
      const keys = await c.keys(`${prefix}*`);
      if (keys.length) await c.del(...keys);
      await c.quit();
    },
  });
} else {
  test('RedisConversationStore conformance', { skip }, () => {});
}
