/**
 * RedisConversationStore({ bus }): the append script publishes the message frame, and the hub,
 * told so by the append's `published` flag, does not publish it again. Real redis-server, real hubs on loopback WebSockets.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';
import WebSocket from 'ws';
import { encodeFrame, type MessageFrame } from '@kefu/protocol';
import { RedisBus, RedisConversationStore } from '../src/index.js';
import { Peer, is, startHubNode } from './helpers/peer.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile();
const { skip } = redis;

async function publishCalls(c: Redis): Promise<number> {
  const m = /cmdstat_publish:calls=(\d+)/.exec(await c.info('commandstats'));
  return Number(m?.[1] ?? 0);
}

/** Raw text frames of one socket, for byte-for-byte comparison. */
function rawFrames(ws: WebSocket): string[] {
  const out: string[] = [];
  ws.on('message', (d) => out.push(String(d)));
  return out;
}

async function until(cond: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('two hubs with linked stores: one PUBLISH per message, and the remote agent gets the very frame the local one got', { skip, timeout: 30_000 }, async () => {
  const prefix = 'lk1:';
  const busA = new RedisBus(redis.url, { nodeId: 'A', prefix });
  const busB = new RedisBus(redis.url, { nodeId: 'B', prefix });
  const a = await startHubNode({ bus: busA, store: new RedisConversationStore(redis.url, { prefix, bus: busA }) });
  const b = await startHubNode({ bus: busB, store: new RedisConversationStore(redis.url, { prefix, bus: busB }) });
  const admin = new Redis(redis.url);
  const visitor = new Peer(a.url, 't1:v1:visitor');
  const local = new Peer(a.url, 't1:a1:agent');
  const remote = new Peer(b.url, 't1:a2:agent');
  const localRaw = rawFrames(local.ws);
  const remoteRaw = rawFrames(remote.ws);
  try {
    for (const p of [visitor, local, remote]) await p.until(is('welcome'), 'welcome');
    visitor.send({ t: 'open', ref: 'o' });
    const { conv } = await visitor.until(is('joined', (f) => f.ref === 'o'), 'joined');
    for (const p of [local, remote]) {
      p.send({ t: 'join', ref: 'j', conv });
      await p.until(is('joined', (f) => f.ref === 'j'), 'agent joined');
    }
    const before = await publishCalls(admin);
    const n = 20;
    for (let i = 1; i <= n; i++) visitor.send({ t: 'send', conv, cid: `c${i}`, body: `hello ${i}`, ...(i % 5 === 0 ? { data: { k: i } } : {}) });
    await remote.until(is('msg', (f) => f.seq === n), `remote msg ${n}`);
    await local.until(is('msg', (f) => f.seq === n), `local msg ${n}`);
    assert.deepEqual(remote.msgs(conv), Array.from({ length: n }, (_, i) => i + 1));
    const frames = (raw: string[]) => raw.filter((s) => s.startsWith('{"t":"msg"'));
    assert.deepEqual(frames(remoteRaw), frames(localRaw));
    // The store's script published each message once and the hub published none of them (a
    // hub publication would have gone out in the turn of its local delivery: 200 ms is plenty).
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await publishCalls(admin) - before, n);
    // A retry of an acked cid is answered from the store and publishes nothing.
    visitor.send({ t: 'send', conv, cid: 'c1', body: 'hello 1' });
    await visitor.until(is('ack', (f) => f.cid === 'c1' && f.dup === true), 'dup ack');
    assert.equal(await publishCalls(admin) - before, n);
  } finally {
    await Promise.all([visitor.close(), local.close(), remote.close()]);
    await a.close();
    await b.close();
    await admin.quit();
  }
});

test('frames of one conversation appended from two nodes reach the channel in seq order', { skip, timeout: 30_000 }, async () => {
  const prefix = 'lk2:';
  const busA = new RedisBus(redis.url, { nodeId: 'A', prefix });
  const busB = new RedisBus(redis.url, { nodeId: 'B', prefix });
  const storeA = new RedisConversationStore(redis.url, { prefix, bus: busA });
  const storeB = new RedisConversationStore(redis.url, { prefix, bus: busB });
  const sub = new Redis(redis.url, { enableReadyCheck: false });
  try {
    const rec = await storeA.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor' } });
    const seen: number[] = [];
    sub.on('message', (_c: string, m: string) => seen.push((JSON.parse(m.slice(m.indexOf('\n') + 1)) as MessageFrame).seq));
    await sub.subscribe(`${prefix}c:${rec.id}`);
    const from = { id: 'v', role: 'visitor' as const };
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? storeA : storeB).append(rec.id, { cid: `m${i}`, from, body: String(i) })));
    await until(() => seen.length === 100, '100 publications');
    assert.deepEqual(seen, Array.from({ length: 100 }, (_, i) => i + 1));
  } finally {
    await Promise.all([storeA.close(), storeB.close(), busA.close(), busB.close(), sub.quit()]);
  }
});

test('the published frame is the one the hub encodes, and the append says it was published', { skip, timeout: 30_000 }, async () => {
  const prefix = 'lk3:';
  const bus = new RedisBus(redis.url, { nodeId: 'A', prefix });
  const other = new RedisBus(redis.url, { nodeId: 'B', prefix });
  const store = new RedisConversationStore(redis.url, { prefix, bus });
  const plain = new RedisConversationStore(redis.url, { prefix });
  try {
    assert.equal(store.publishesOn, bus);
    assert.equal(plain.publishesOn, undefined);
    const rec = await store.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor', name: 'Vi' } });
    const got: Array<[string, string]> = [];
    other.on('message', (t, p) => got.push([t, p]));
    await other.subscribe(`c:${rec.id}`);
    const from = { id: 'v', role: 'visitor' as const, name: 'Vi' };
    const r = await store.append(rec.id, { cid: 'x1', from, body: 'a "quoted"\nbody', data: { n: 1, s: 'é' } });
    assert.equal(r.published, true);
    const frame = encodeFrame({ t: 'msg', conv: rec.id, seq: r.seq, cid: 'x1', from, body: 'a "quoted"\nbody', ts: r.ts, data: { n: 1, s: 'é' } });
    await until(() => got.length === 1, 'the store publication');
    assert.deepEqual(got[0], [`c:${rec.id}`, frame]);
    // A retried cid publishes nothing and is not flagged; a store without a bus never flags.
    const dup = await store.append(rec.id, { cid: 'x1', from, body: 'a "quoted"\nbody' });
    assert.equal(dup.dup, true);
    assert.equal(dup.published, undefined);
    const unlinked = await plain.append(rec.id, { cid: 'x2', from, body: 'b' });
    assert.equal(unlinked.published, undefined);
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(got.length, 1);
  } finally {
    await Promise.all([store.close(), plain.close(), bus.close(), other.close()]);
  }
});

test('a hub refuses a store that publishes on another bus than its own', { skip }, async () => {
  const prefix = 'lk4:';
  const bus = new RedisBus(redis.url, { nodeId: 'A', prefix });
  const another = new RedisBus(redis.url, { nodeId: 'A2', prefix });
  const store = new RedisConversationStore(redis.url, { prefix, bus });
  const message = 'options.store publishes message frames on a bus that is not options.bus: give the hub the bus the store was linked to';
  try {
    await assert.rejects(startHubNode({ bus: another, store }), { name: 'TypeError', message });
    await assert.rejects(startHubNode({ store }), { name: 'TypeError', message });
  } finally {
    await Promise.all([store.close(), bus.close(), another.close()]);
  }
});

test('options are checked: a sharded bus cannot be linked, batchWrites is a boolean', { skip }, async () => {
  const bus = new RedisBus(redis.url, { sharded: true });
  try {
    assert.throws(() => new RedisConversationStore(redis.url, { bus }), { name: 'TypeError', message: 'options.bus must be a RedisBus that is not sharded' });
    assert.throws(() => new RedisConversationStore(redis.url, { batchWrites: 'yes' as unknown as boolean }), { name: 'TypeError', message: 'options.batchWrites must be a boolean' });
    assert.throws(() => new RedisBus(redis.url, { batchWrites: 1 as unknown as boolean }), { name: 'TypeError', message: 'options.batchWrites must be a boolean' });
  } finally {
    await bus.close();
  }
});

test('batched writes: the publications of one turn go out in one write, in order', { skip, timeout: 30_000 }, async () => {
  const a = new RedisBus(redis.url, { nodeId: 'A', prefix: 'bw:' });
  const b = new RedisBus(redis.url, { nodeId: 'B', prefix: 'bw:' });
  const plain = new RedisBus(redis.url, { nodeId: 'C', prefix: 'bw:', batchWrites: false });
  try {
    const got: string[] = [];
    b.on('message', (_t, p) => got.push(p));
    await b.subscribe('t');
    await a.publish('t', 'warm');
    await until(() => got.length === 1, 'warm-up');
    const flushes = a.stats.writeFlushes!;
    const commands = a.stats.writeCommands!;
    await Promise.all(Array.from({ length: 100 }, (_, i) => a.publish('t', `p${i}`)));
    assert.equal(a.stats.writeFlushes! - flushes, 1);
    assert.equal(a.stats.writeCommands! - commands, 100);
    await until(() => got.length === 101, '100 publications');
    assert.deepEqual(got.slice(1), Array.from({ length: 100 }, (_, i) => `p${i}`));
    assert.equal(plain.stats.writeFlushes, undefined);
    await plain.publish('t', 'unbatched');
    await until(() => got.length === 102, 'the unbatched publication');
  } finally {
    await Promise.all([a.close(), b.close(), plain.close()]);
  }
});

test('linked stores, subscribers cut with CLIENT KILL TYPE pubsub while messages flow: the agent on the other node heals, every message once, in order', { skip, timeout: 60_000 }, async () => {
  const prefix = 'lk5:';
  const busA = new RedisBus(redis.url, { nodeId: 'A', prefix });
  const busB = new RedisBus(redis.url, { nodeId: 'B', prefix });
  const a = await startHubNode({ bus: busA, store: new RedisConversationStore(redis.url, { prefix, bus: busA }), healSettleMs: 300 });
  const b = await startHubNode({ bus: busB, store: new RedisConversationStore(redis.url, { prefix, bus: busB }), healSettleMs: 300 });
  a.hub.on('error', () => {});
  b.hub.on('error', () => {});
  const admin = new Redis(redis.url);
  const visitor = new Peer(a.url, 't1:v1:visitor');
  const agent = new Peer(b.url, 't1:a1:agent');
  try {
    for (const p of [visitor, agent]) await p.until(is('welcome'), 'welcome');
    visitor.send({ t: 'open', ref: 'o' });
    const { conv } = await visitor.until(is('joined', (f) => f.ref === 'o'), 'joined');
    agent.send({ t: 'join', ref: 'j', conv });
    await agent.until(is('joined', (f) => f.ref === 'j'), 'agent joined');
    for (let i = 1; i <= 20; i++) {
      visitor.send({ t: 'send', conv, cid: `v${i}`, body: `m${i}` });
      if (i === 6 || i === 12) await admin.client('KILL', 'TYPE', 'pubsub');
    }
    await visitor.until(is('ack', (f) => f.cid === 'v20'), 'ack v20');
    await new Promise((r) => setTimeout(r, 500));
    // A message published after the subscribers are back reveals any gap left by the cuts.
    visitor.send({ t: 'send', conv, cid: 'v21', body: 'm21' });
    await agent.until(is('msg', (f) => f.seq === 21), 'msg 21');
    await new Promise((r) => setTimeout(r, 400)); // past the settle sweep
    assert.ok(b.hub.metrics.snapshot().healedMessages > 0, 'the cuts lost bus traffic: the test exercised healing');
    assert.deepEqual(agent.msgs(conv), Array.from({ length: 21 }, (_, i) => i + 1), 'every seq once, in order');
  } finally {
    admin.disconnect();
    await Promise.all([visitor.close(), agent.close()]);
    await a.close();
    await b.close();
  }
});
