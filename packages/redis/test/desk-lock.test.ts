/**
 * The desk's election lock on a real redis-server: one holder at a time, a new fencing token per
 * term, a stopped holder hands over at once, and a holder that cannot reach Redis stops leading
 * when its local lease runs out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { Redis } from 'ioredis';
import { findBinary, startRedisServer } from '@kefu/core/testing';
import { DeskLock } from '../src/desk-lock.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile({ appendonly: false });
const { skip } = redis;

async function until(cond: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

test('one holder at a time; stop() hands the lock over; each term has a new, larger fencing token', { skip }, async () => {
  const ca = new Redis(redis.url);
  const cb = new Redis(redis.url);
  const a = new DeskLock(ca, 'lk:1', 'A', 600);
  const b = new DeskLock(cb, 'lk:1', 'B', 600);
  try {
    await a.start();
    await b.start();
    assert.match(a.token ?? '', /^\d+:A$/);
    assert.equal(b.token, undefined);
    await new Promise((r) => setTimeout(r, 900)); // past the TTL: renewals keep it
    assert.ok(a.token !== undefined && b.token === undefined, 'the holder renews; the other never gets it');
    const first = Number(a.token!.split(':')[0]);
    await a.stop();
    assert.equal(a.token, undefined);
    await until(() => b.token !== undefined, 'B takes over', 2_000);
    assert.match(b.token!, /^\d+:B$/);
    assert.ok(Number(b.token!.split(':')[0]) > first, 'fencing tokens grow');
  } finally {
    await a.stop();
    await b.stop();
    ca.disconnect();
    cb.disconnect();
  }
});

test('Redis gone: the holder emits lost once its lease runs out, and its token reads undefined', { skip: 'skip' in findBinary('redis-server') ? 'no redis-server' : false, timeout: 30_000 }, async () => {
  const own = await startRedisServer({ appendonly: false });
  const c = new Redis(own.url, { maxRetriesPerRequest: 0, retryStrategy: () => 200 });
  c.on('error', () => {});
  const lock = new DeskLock(c, 'lk:2', 'A', 500);
  try {
    await lock.start();
    assert.ok(lock.token);
    const lost = new Promise<string>((r) => lock.once('lost', r));
    await own.kill();
    assert.match(await lost, /lease ran out/);
    assert.equal(lock.token, undefined);
  } finally {
    await lock.stop();
    c.disconnect();
    await own.stop();
    await rm(own.dir, { recursive: true, force: true });
  }
});
