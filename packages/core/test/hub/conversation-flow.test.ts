import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, TestClient } from './helpers.js';

test('visitor opens, agent joins, messages fan out with increasing seq, ack after store', async () => {
  const h = await startHub();
  const v = await TestClient.connect(h.url, 't1:v1:visitor:Ann');
  const a = await TestClient.connect(h.url, 't1:a1:agent:Bob');
  try {
    v.send({ t: 'open', ref: 'r1' });
    const joined = await v.next('joined');
    assert.equal(joined.ref, 'r1');
    assert.equal(joined.seq, 0);
    assert.deepEqual(joined.members, [{ id: 'v1', role: 'visitor', name: 'Ann', readSeq: 0 }]);
    const conv = joined.conv;

    a.send({ t: 'join', ref: 'j1', conv });
    const aj = await a.next('joined');
    assert.equal(aj.conv, conv);
    assert.deepEqual(aj.members.map((m) => m.id).sort(), ['a1', 'v1']);
    const member = await v.next('member');
    assert.deepEqual(member, { t: 'member', conv, user: { id: 'a1', role: 'agent', name: 'Bob' }, joined: true });

    v.send({ t: 'send', conv, cid: 'c1', body: 'hello' });
    const ack = await v.next('ack');
    assert.equal(ack.seq, 1);
    assert.equal(ack.cid, 'c1');
    assert.equal(ack.dup, undefined);
    const m1 = await a.next('msg');
    assert.deepEqual({ ...m1, ts: 0 }, { t: 'msg', conv, seq: 1, cid: 'c1', from: { id: 'v1', role: 'visitor', name: 'Ann' }, body: 'hello', ts: 0 });
    assert.equal(m1.ts, ack.ts);

    a.send({ t: 'send', conv, cid: 'x', body: 'hi, how can I help?' });
    assert.equal((await a.next('ack')).seq, 2);
    assert.equal((await v.next('msg')).seq, 2);
    const stored = await h.hub.store.range(conv);
    assert.deepEqual(stored.map((m) => m.body), ['hello', 'hi, how can I help?']);
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});

test('a retried cid gets the original ack with dup:true and is stored once', async () => {
  const h = await startHub();
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const a = await TestClient.connect(h.url, 't1:a1:agent');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    a.send({ t: 'join', ref: 'j', conv });
    await a.next('joined');
    v.send({ t: 'send', conv, cid: 'same', body: 'one' });
    const first = await v.next('ack');
    v.send({ t: 'send', conv, cid: 'same', body: 'one (retry)' });
    const second = await v.next('ack');
    assert.equal(second.dup, true);
    assert.equal(second.seq, first.seq);
    assert.equal(second.ts, first.ts);
    v.send({ t: 'send', conv, cid: 'next', body: 'two' });
    await v.next('ack', (f) => f.cid === 'next');
    const msgs = [await a.next('msg'), await a.next('msg')];
    assert.deepEqual(msgs.map((m) => m.cid), ['same', 'next']);
    assert.equal((await h.hub.store.range(conv)).length, 2);
    assert.equal(h.hub.metrics.snapshot().duplicates, 1);
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});

test('concurrent sends from several members get strictly increasing, unique seqs, delivered in order', async () => {
  const h = await startHub({ rateLimit: { perSec: 1000, burst: 1000 } });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const a = await TestClient.connect(h.url, 't1:a1:agent');
  const watcher = await TestClient.connect(h.url, 't1:a2:agent');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    for (const c of [a, watcher]) { c.send({ t: 'join', ref: 'j', conv }); await c.next('joined'); }
    for (let i = 0; i < 50; i++) {
      v.send({ t: 'send', conv, cid: `v${i}`, body: `v${i}` });
      a.send({ t: 'send', conv, cid: `a${i}`, body: `a${i}` });
    }
    const seqs: number[] = [];
    for (let i = 0; i < 100; i++) seqs.push((await watcher.next('msg')).seq);
    assert.deepEqual(seqs, Array.from({ length: 100 }, (_, i) => i + 1));
  } finally {
    await v.close(); await a.close(); await watcher.close(); await h.close();
  }
});
