import { test, describe } from 'node:test';
import { sagaLogSuite } from '@kefu/core/testing';
import { RedisSagaLog } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;
let n = 0;

if (!skip) {
  sagaLogSuite({ test, describe }, {
    name: 'RedisSagaLog',
    factory: async () => {
      const name = `log${++n}`;
      return { log: new RedisSagaLog(redis.url, { name }), reopen: async () => new RedisSagaLog(redis.url, { name }) };
    },
  });
} else {
  test('RedisSagaLog conformance', { skip }, () => {});
}
