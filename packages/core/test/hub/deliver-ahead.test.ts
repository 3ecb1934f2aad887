/**
 * The hub delivers a message to the other members as soon as its store shows it (before the
 * fsync, with LevelConversationStore's deliverAhead), while the sender's ack and the `message`
 * event wait until it is durable.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LevelConversationStore } from '../../src/conversation/level-conversation-store.js';
import { startHub, TestClient } from './helpers.js';

async function pair(deliverAhead: number) {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-hub-ahead-'));
  // A 400 ms commit interval makes the wait for durability long enough to observe.
  const h = await startHub({ store: new LevelConversationStore({ location: dir, deliverAhead, commitIntervalMs: 400 }) });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const a = await TestClient.connect(h.url, 't1:a1:agent');
  v.send({ t: 'open', ref: 'o' });
  const { conv } = await v.next('joined');
  a.send({ t: 'join', ref: 'j', conv });
  await a.next('joined');
  return {
    h, v, a, conv,
    async close() { await v.close(); await a.close(); await h.close(); await rm(dir, { recursive: true, force: true }); },
  };
}

/** Sends one message and records, in order, when the agent got it, the visitor's ack and the event. */
async function observe(p: Awaited<ReturnType<typeof pair>>, cid: string): Promise<string[]> {
  const order: string[] = [];
  p.h.hub.once('message', (m) => order.push(`event ${m.seq}`));
  const got = p.a.next('msg').then((m) => order.push(`agent ${m.seq}`));
  const acked = p.v.next('ack').then((k) => order.push(`ack ${k.seq}`));
  p.v.send({ t: 'send', conv: p.conv, cid, body: 'hello' });
  await Promise.all([got, acked]);
  return order;
}

test('with deliverAhead, the agent gets a message before it is durable; the ack and the message event wait for durability', async () => {
  const p = await pair(64);
  try {
    await observe(p, 'warm'); // the first batch starts the commit interval
    const order = await observe(p, 'c1');
    assert.deepEqual(order, ['agent 2', 'event 2', 'ack 2']);
    assert.deepEqual((await p.h.hub.store.range(p.conv)).map((m) => m.cid), ['warm', 'c1']);
  } finally {
    await p.close();
  }
});

test('with deliverAhead 0, the agent gets a message only once it is durable', async () => {
  const p = await pair(0);
  try {
    await observe(p, 'warm');
    const order = await observe(p, 'c1');
    // The event is emitted once the message is durable, before any frame about it is written.
    assert.equal(order[0], 'event 2', 'nothing reaches the agent before the message is stored');
    assert.deepEqual([...order].sort(), ['ack 2', 'agent 2', 'event 2']);
  } finally {
    await p.close();
  }
});
