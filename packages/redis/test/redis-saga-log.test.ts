import { test, describe, before, after } from 'node:test';
import { sagaLogSuite, findBinary, startRedisServer, type RedisServerHandle } from '@kefu/core/testing';
import { RedisSagaLog } from '../src/index.js';

const bin = findBinary('redis-server');
const skip = 'skip' in bin ? bin.skip : false;
let redis: RedisServerHandle | undefined;
let n = 0;

before(async () => { if (!skip) redis = await startRedisServer(); });
after(async () => { await redis?.stop(); });

if (!skip) {
  sagaLogSuite({ test, describe }, {
    name: 'RedisSagaLog',
    factory: async () => {
      const name = `log${++n}`;
      return { log: new RedisSagaLog(redis!.url, { name }), reopen: async () => new RedisSagaLog(redis!.url, { name }) };
    },
  });
} else {
  test('RedisSagaLog conformance', { skip }, () => {});
}
