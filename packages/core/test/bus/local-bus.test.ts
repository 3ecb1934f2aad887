import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LocalBus, LocalBusNetwork } from '../../src/bus/local-bus.js';

test('LocalBus alone delivers nothing; on a network, other subscribed nodes receive in order, never the publisher', async () => {
  const alone = new LocalBus();
  const got: string[] = [];
  alone.on('message', (_t, p) => got.push(p));
  await alone.subscribe('x');
  await alone.publish('x', 'self');
  const net = new LocalBusNetwork();
  const a = new LocalBus({ network: net, nodeId: 'a' });
  const b = new LocalBus({ network: net, nodeId: 'b' });
  const c = new LocalBus({ network: net, nodeId: 'c' });
  const seenA: string[] = []; const seenB: string[] = []; const seenC: string[] = [];
  a.on('message', (t, p) => seenA.push(`${t}:${p}`));
  b.on('message', (t, p) => seenB.push(`${t}:${p}`));
  c.on('message', (t, p) => seenC.push(`${t}:${p}`));
  await a.subscribe('room'); await b.subscribe('room');
  for (let i = 0; i < 5; i++) await a.publish('room', String(i));
  await b.publish('other', 'nobody');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(got, []);
  assert.deepEqual(seenA, []);
  assert.deepEqual(seenB, ['room:0', 'room:1', 'room:2', 'room:3', 'room:4']);
  assert.deepEqual(seenC, [], 'not subscribed');
  for (const bus of [alone, a, b, c]) await bus.close();
});

test('LocalBus.alone is true while no other bus shares its network (the hub then skips publishing)', async () => {
  assert.equal(new LocalBus().alone, true);
  const net = new LocalBusNetwork();
  const a = new LocalBus({ network: net });
  assert.equal(a.alone, true, 'a network of one');
  const b = new LocalBus({ network: net });
  assert.equal(a.alone, false);
  assert.equal(b.alone, false);
  await b.close();
  assert.equal(a.alone, true, 'alone again once the other one closed');
  await a.close();
});

test('subscriptions are ref-counted', async () => {
  const net = new LocalBusNetwork();
  const a = new LocalBus({ network: net });
  const b = new LocalBus({ network: net });
  const seen: string[] = [];
  b.on('message', (_t, p) => seen.push(p));
  await b.subscribe('t'); await b.subscribe('t');
  assert.equal(b.refCount('t'), 2);
  await b.unsubscribe('t');
  await a.publish('t', 'still');
  await new Promise((r) => setImmediate(r));
  await b.unsubscribe('t');
  await b.unsubscribe('t');
  assert.equal(b.refCount('t'), 0);
  assert.equal(b.topics, 0);
  await a.publish('t', 'gone');
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(seen, ['still']);
  await a.close(); await b.close();
});

test('validation and closed state', async () => {
  assert.throws(() => new LocalBus({ nodeId: '' }), { name: 'TypeError', message: 'options.nodeId must be a string of 1-128 characters' });
  const a = new LocalBus();
  assert.equal(typeof a.nodeId, 'string');
  await assert.rejects(a.publish('', 'x'), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
  await assert.rejects(a.subscribe(''), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
  await a.close();
  await a.close();
  await assert.rejects(a.publish('t', 'x'), { code: 'KEFU_ERR_CLOSED' });
  await assert.rejects(a.subscribe('t'), { code: 'KEFU_ERR_CLOSED' });
});
