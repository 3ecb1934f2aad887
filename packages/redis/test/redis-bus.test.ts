import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RedisBus } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;

function nextMessage(bus: RedisBus, timeoutMs = 5000): Promise<[string, string]> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no bus message within ' + timeoutMs + ' ms')), timeoutMs);
    bus.once('message', (topic, payload) => { clearTimeout(t); resolve([topic, payload]); });
  });
}

test('a payload published on one node reaches the other subscribed node, not the publisher', { skip }, async () => {
  const a = new RedisBus(redis.url, { nodeId: 'node-a' });
  const b = new RedisBus(redis.url, { nodeId: 'node-b' });
  try {
    await a.subscribe('conv:1');
    await b.subscribe('conv:1');
    const seenByA: string[] = [];
    a.on('message', (_t, p) => seenByA.push(p));
    const got = nextMessage(b);
    await a.publish('conv:1', '{"t":"msg","body":"hello\\nworld"}');
    assert.deepEqual(await got, ['conv:1', '{"t":"msg","body":"hello\\nworld"}']);
    // The publisher's own echo is dropped: give it time to arrive and check it did not surface.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(seenByA, []);
  } finally {
    await a.close();
    await b.close();
  }
});

test('subscriptions are ref-counted: the topic stays until the last unsubscribe', { skip }, async () => {
  const a = new RedisBus(redis.url, { nodeId: 'a2' });
  const b = new RedisBus(redis.url, { nodeId: 'b2' });
  try {
    await b.subscribe('t');
    await b.subscribe('t');
    await b.unsubscribe('t');
    assert.equal(b.refCount('t'), 1);
    const got = nextMessage(b);
    await a.publish('t', 'one');
    assert.deepEqual(await got, ['t', 'one']);
    await b.unsubscribe('t');
    assert.equal(b.refCount('t'), 0);
    const late: string[] = [];
    b.on('message', (_t, p) => late.push(p));
    await a.publish('t', 'two');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(late, []);
  } finally {
    await a.close();
    await b.close();
  }
});

test('prefixes isolate deployments sharing one Redis', { skip }, async () => {
  const a = new RedisBus(redis.url, { nodeId: 'a3', prefix: 'one:' });
  const b = new RedisBus(redis.url, { nodeId: 'b3', prefix: 'two:' });
  try {
    await b.subscribe('x');
    const late: string[] = [];
    b.on('message', (_t, p) => late.push(p));
    await a.publish('x', 'p');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(late, []);
  } finally {
    await a.close();
    await b.close();
  }
  assert.throws(() => new RedisBus(redis.url, { prefix: 'x'.repeat(65) }), { name: 'TypeError', message: 'options.prefix must be a string of at most 64 characters' });
});

test('a Redis outage is reported once as KEFU_ERR_BUS_UNAVAILABLE, and the bus recovers with its subscriptions', { skip }, async () => {
  const a = new RedisBus(redis.url, { nodeId: 'a4' });
  const b = new RedisBus(redis.url, { nodeId: 'b4' });
  const errors: Array<{ code?: string }> = [];
  b.on('error', (e) => errors.push(e as { code?: string }));
  a.on('error', () => {});
  try {
    await b.subscribe('r');
    await redis.kill();
    await a.publish('r', 'lost').then(() => assert.fail('publish should fail while Redis is down'), (e: { code?: string }) => assert.equal(e.code, 'KEFU_ERR_BUS_UNAVAILABLE'));
    assert.equal(b.degraded, true);
    await redis.restart();
    const deadline = Date.now() + 10_000;
    while ((a.degraded || b.degraded) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.equal(b.degraded, false);
    assert.ok(errors.length >= 1 && errors.every((e) => e.code === 'KEFU_ERR_BUS_UNAVAILABLE'));
    assert.ok(errors.length <= 2, `outage reported ${errors.length} times`);
    // ioredis resubscribes on reconnect: traffic flows again.
    let got: [string, string] | undefined;
    for (let i = 0; i < 50 && !got; i++) {
      const p = nextMessage(b, 200).catch(() => undefined);
      await a.publish('r', 'back');
      got = await p;
    }
    assert.deepEqual(got, ['r', 'back']);
  } finally {
    await a.close();
    await b.close();
  }
});

test('a subscriber cut by Redis (CLIENT KILL TYPE pubsub) is an outage: error, then recovered once re-subscribed', { skip }, async () => {
  const { Redis } = await import('ioredis');
  const a = new RedisBus(redis.url, { nodeId: 'a5' });
  const b = new RedisBus(redis.url, { nodeId: 'b5' });
  const admin = new Redis(redis.url);
  const events: string[] = [];
  b.on('error', (e) => events.push((e as { code?: string }).code ?? 'error'));
  b.on('recovered', () => events.push('recovered'));
  try {
    await b.subscribe('k');
    await admin.client('KILL', 'TYPE', 'pubsub');
    const deadline = Date.now() + 10_000;
    while (!events.includes('recovered') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(events, ['KEFU_ERR_BUS_UNAVAILABLE', 'recovered']);
    // Once 'recovered' fired, the subscription is live: the very next publication arrives.
    const got = nextMessage(b);
    await a.publish('k', 'after');
    assert.deepEqual(await got, ['k', 'after']);
  } finally {
    await admin.quit();
    await a.close();
    await b.close();
  }
});
