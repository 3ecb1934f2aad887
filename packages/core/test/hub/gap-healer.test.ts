import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KefuError, encodeFrame, type MessageFrame } from '@kefu/protocol';
import { MemoryConversationStore } from '../../src/conversation/memory-conversation-store.js';
import { LocalBus, LocalBusNetwork } from '../../src/bus/local-bus.js';
import { GapHealer, msgSeq, type HealerHost } from '../../src/hub/gap-healer.js';
import { Hub } from '../../src/hub/hub.js';
import { startHub, TestClient, sleep, until, queryAuth } from './helpers.js';

/** Test double: a LocalBus whose subscriber side can be cut, as pub/sub is when Redis drops a subscriber. */
class DroppingBus extends LocalBus {
  dropping = false;
  dropped = 0;
  override receive(topic: string, payload: string, origin: string): void {
    if (this.dropping) { this.dropped++; return; }
    super.receive(topic, payload, origin);
  }
}

test('msgSeq reads the seq of encoded msg frames without parsing, -1 for anything else', () => {
  const f: MessageFrame = { t: 'msg', conv: 'c"seq":9', seq: 1234, cid: 'x', from: { id: 'u', role: 'visitor' }, body: '"seq":5', ts: 1 };
  assert.equal(msgSeq(encodeFrame(f)), 1234, 'a conv id or body containing "seq": cannot match: JSON escapes the quotes');
  assert.equal(msgSeq(encodeFrame({ ...f, seq: 0 })), 0);
  assert.equal(msgSeq('{"t":"typing","conv":"c","seq":3}'), -1);
  assert.equal(msgSeq('{"t":"msg","conv":"c"}'), -1);
  assert.equal(msgSeq('{"t":"msg","conv":"c","seq":x}'), -1);
});

async function twoNodes(busB: LocalBus, network: LocalBusNetwork, store: MemoryConversationStore, extra: { healSettleMs?: number } = {}) {
  const a = await startHub({ store, bus: new LocalBus({ network, nodeId: 'A' }), ...extra });
  const b = await startHub({ store, bus: busB, ...extra });
  const v = await TestClient.connect(a.url, 't1:v1:visitor');
  const ag = await TestClient.connect(b.url, 't1:a1:agent');
  v.send({ t: 'open', ref: 'r' });
  const { conv } = await v.next('joined');
  ag.send({ t: 'join', ref: 'j', conv });
  await ag.next('joined');
  return { a, b, v, ag, conv };
}

async function sendAll(v: TestClient, conv: string, from: number, to: number): Promise<void> {
  for (let i = from; i <= to; i++) {
    v.send({ t: 'send', conv, cid: `c${i}`, body: `m${i}` });
    assert.equal((await v.next('ack', (f) => f.cid === `c${i}`)).seq, i);
  }
}

async function msgs(c: TestClient, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await c.next('msg')).seq);
  return out;
}

test('bus outage: the node reports it, then heals the lost tail from the store on recovery, in order, exactly once', async () => {
  const network = new LocalBusNetwork();
  const store = new MemoryConversationStore();
  const busB = new DroppingBus({ network, nodeId: 'B' });
  const { a, b, v, ag, conv } = await twoNodes(busB, network, store, { healSettleMs: 50 });
  const events: string[] = [];
  b.hub.on('bus:down', (err) => events.push(`down:${(err as KefuError).code}`));
  b.hub.on('bus:up', () => events.push('up'));
  b.hub.on('healed', (h) => events.push(`healed:${h.count}`));
  b.hub.on('error', () => {});
  try {
    await sendAll(v, conv, 1, 2);
    assert.deepEqual(await msgs(ag, 2), [1, 2]);
    busB.dropping = true;
    busB.emit('error', new KefuError('KEFU_ERR_BUS_UNAVAILABLE', 'test outage'));
    assert.equal(b.hub.health().ok, false);
    assert.equal(b.hub.health().bus, 'down');
    assert.equal(typeof b.hub.health().busDownSince, 'number');
    await sendAll(v, conv, 3, 7);
    await sleep(30);
    assert.equal(ag.frames.filter((f) => f.t === 'msg').length, 0, 'nothing crossed while the bus was down');
    assert.ok(busB.dropped >= 5);
    busB.dropping = false;
    busB.emit('recovered');
    assert.deepEqual(await msgs(ag, 5), [3, 4, 5, 6, 7]);
    await sendAll(v, conv, 8, 8);
    assert.deepEqual(await msgs(ag, 1), [8], 'live traffic goes on after the heal');
    await sleep(120); // past the settle sweep
    assert.equal(ag.frames.filter((f) => f.t === 'msg').length, 0, 'no duplicate from the settle sweep');
    assert.deepEqual(events, ['down:KEFU_ERR_BUS_UNAVAILABLE', 'up', 'healed:5']);
    assert.deepEqual(b.hub.health(), { ok: true, bus: 'up', healing: 0, connections: 1, inflight: 0, paused: 0, closing: false });
    assert.equal(b.hub.metrics.snapshot().healedMessages, 5);
  } finally {
    await v.close(); await ag.close();
    await a.close(); await b.close();
  }
});

test('a msg past a gap (no recovery event) makes the node fetch the missing ones first: no gap, order kept', async () => {
  const network = new LocalBusNetwork();
  const store = new MemoryConversationStore();
  const busB = new DroppingBus({ network, nodeId: 'B' });
  const { a, b, v, ag, conv } = await twoNodes(busB, network, store, { healSettleMs: 0 });
  try {
    await sendAll(v, conv, 1, 1);
    busB.dropping = true;
    await sendAll(v, conv, 2, 4);
    await sleep(20);
    busB.dropping = false;
    // typing crosses too; it was produced after message 5 and must arrive after it
    await sendAll(v, conv, 5, 5);
    v.send({ t: 'typing', conv, on: true });
    const seen: string[] = [];
    for (let i = 0; i < 6; i++) {
      const f = await ag.nextAny(['msg', 'typing']);
      seen.push(f.t === 'msg' ? `m${f.seq}` : f.t);
    }
    assert.deepEqual(seen, ['m1', 'm2', 'm3', 'm4', 'm5', 'typing']);
    // 5 revealed the gap and was stored before it was published: the store read brings 2-5, the live 5 is dropped
    assert.equal(b.hub.metrics.snapshot().healedMessages, 4);
  } finally {
    await v.close(); await ag.close();
    await a.close(); await b.close();
  }
});

test('an agent sending on the node that missed traffic: its own message waits behind the healed ones', async () => {
  const network = new LocalBusNetwork();
  const store = new MemoryConversationStore();
  const busB = new DroppingBus({ network, nodeId: 'B' });
  const { a, b, v, ag, conv } = await twoNodes(busB, network, store, { healSettleMs: 0 });
  const ag2 = await TestClient.connect(b.url, 't1:a2:agent');
  try {
    ag2.send({ t: 'join', ref: 'j2', conv });
    await ag2.next('joined');
    busB.dropping = true;
    await sendAll(v, conv, 1, 2);
    await sleep(20);
    busB.dropping = false;
    ag.send({ t: 'send', conv, cid: 'from-agent', body: 'hi' });
    assert.equal((await ag.next('ack')).seq, 3);
    assert.deepEqual(await msgs(ag2, 3), [1, 2, 3], 'the other socket on B gets 1, 2 (healed) before 3');
    assert.deepEqual(await msgs(ag, 2), [1, 2], 'the sender gets the healed ones, not its own');
    assert.deepEqual(await msgs(v, 1), [3]);
    await sleep(50);
    assert.equal(ag.frames.filter((f) => f.t === 'msg').length, 0, 'the sender is not sent its own message by the heal');
  } finally {
    await ag2.close();
    await v.close(); await ag.close();
    await a.close(); await b.close();
  }
});

function recordingHost(store: MemoryConversationStore, rooms: Set<string>, maxHeldBytes: number) {
  const out: string[] = [];
  const counters = { healed: 0, dropped: 0, errors: 0 };
  const host: HealerHost = {
    store, pageSize: 2, maxHeldBytes,
    hasRoom: (conv) => rooms.has(conv),
    fanout: (_conv, s) => { const seq = msgSeq(s); out.push(seq >= 0 ? `m${seq}` : JSON.parse(s).t as string); },
    healed: (_c, n) => { counters.healed += n; },
    dropped: (n) => { counters.dropped += n; },
    error: () => { counters.errors++; },
  };
  return { host, out, counters };
}

function frameOf(conv: string, seq: number): string {
  return encodeFrame({ t: 'msg', conv, seq, cid: `c${seq}`, from: { id: 'v', role: 'visitor' }, body: `m${seq}`, ts: seq });
}

test('hold limit: past maxHeldBytes, held msg frames are dropped and re-read from the store, other frames dropped and counted', async () => {
  const store = new MemoryConversationStore();
  const { id: conv } = await store.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor' } });
  for (let i = 1; i <= 9; i++) await store.append(conv, { cid: `c${i}`, from: { id: 'v', role: 'visitor' }, body: `m${i}` });
  const rooms = new Set([conv]);
  const one = frameOf(conv, 1).length;
  const { host, out, counters } = recordingHost(store, rooms, one * 2 + 10);
  const healer = new GapHealer(host);
  healer.frame(conv, frameOf(conv, 1));
  healer.frame(conv, frameOf(conv, 4)); // gap: 2, 3 missing; heal starts, frames are held
  healer.frame(conv, frameOf(conv, 5));
  healer.frame(conv, frameOf(conv, 6)); // over the bound: dropped, must be re-read
  healer.frame(conv, encodeFrame({ t: 'typing', conv, from: { id: 'v', role: 'visitor' }, on: true })); // over: dropped
  await until(() => healer.healing === 0);
  assert.deepEqual(out, ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'm9'], 'all stored messages once, in order');
  assert.equal(counters.dropped, 1);
  assert.equal(healer.lastSeq(conv), 9);
  healer.frame(conv, frameOf(conv, 7));
  assert.equal(out.length, 9, 'an old seq arriving late is a duplicate');
});

test('a room that leaves the node mid-heal gets nothing more; a failing store releases the held frames and reports', async () => {
  const store = new MemoryConversationStore();
  const { id: conv } = await store.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor' } });
  for (let i = 1; i <= 3; i++) await store.append(conv, { cid: `c${i}`, from: { id: 'v', role: 'visitor' }, body: `m${i}` });
  const rooms = new Set([conv]);
  const { host, out } = recordingHost(store, rooms, 1 << 20);
  const healer = new GapHealer(host);
  healer.frame(conv, frameOf(conv, 1));
  healer.frame(conv, frameOf(conv, 3));
  rooms.delete(conv);
  healer.forget(conv);
  await sleep(20);
  assert.deepEqual(out, ['m1']);
  assert.equal(healer.healing, 0);

  // store failure: the gap cannot be filled now; held frames still go out, in order
  const broken = new MemoryConversationStore();
  const { id: c2 } = await broken.createConversation({ tenant: 't', visitor: { id: 'v', role: 'visitor' } });
  const r2 = recordingHost(broken, new Set([c2]), 1 << 20);
  const h2 = new GapHealer(r2.host);
  h2.frame(c2, frameOf(c2, 1));
  await broken.close();
  h2.frame(c2, frameOf(c2, 3));
  h2.frame(c2, frameOf(c2, 4));
  await until(() => h2.healing === 0);
  assert.deepEqual(r2.out, ['m1', 'm3', 'm4']);
  assert.equal(r2.counters.errors, 1);
});

test('healSettleMs is validated', () => {
  assert.throws(() => new Hub({ authenticate: queryAuth, healSettleMs: -1 }), { name: 'RangeError', message: 'options.healSettleMs must be an integer >= 0' });
  assert.throws(() => new Hub({ authenticate: queryAuth, healSettleMs: 1.5 }), { name: 'RangeError', message: 'options.healSettleMs must be an integer >= 0' });
});
