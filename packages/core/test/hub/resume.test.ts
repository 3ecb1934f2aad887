import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startHub, TestClient } from './helpers.js';

test('resume replays exactly the missed messages in order, then resumed, then live ones', async () => {
  const h = await startHub({ resumePageSize: 3 });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    for (let i = 1; i <= 10; i++) { v.send({ t: 'send', conv, cid: `c${i}`, body: `m${i}` }); await v.next('ack'); }
    const a = await TestClient.connect(h.url, 't1:a1:agent');
    a.send({ t: 'resume', ref: 'z', conv, after: 4 });
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push((await a.next('msg')).seq);
    assert.deepEqual(got, [5, 6, 7, 8, 9, 10]);
    const done = await a.next('resumed');
    assert.deepEqual(done, { t: 'resumed', ref: 'z', conv, after: 4, seq: 10, count: 6 });
    v.send({ t: 'send', conv, cid: 'live', body: 'live' });
    assert.equal((await a.next('msg')).seq, 11);
    assert.equal(a.frames.filter((f) => f.t === 'msg').length, 0);
    await a.close();
  } finally {
    await v.close(); await h.close();
  }
});

test('resume while messages keep arriving: no gap, no duplicate', async () => {
  const h = await startHub({ resumePageSize: 5, rateLimit: { perSec: 10_000, burst: 10_000 } });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    for (let i = 1; i <= 100; i++) v.send({ t: 'send', conv, cid: `a${i}`, body: 'x' });
    await v.next('ack', (f) => f.cid === 'a100');
    const a = await TestClient.connect(h.url, 't1:a1:agent');
    // Resume, and keep posting while the replay pages through the store.
    a.send({ t: 'resume', ref: 'z', conv, after: 0 });
    const posting = (async () => {
      for (let i = 0; i < 60; i++) {
        await h.hub.post(conv, { id: 'bot', role: 'bot' }, `live ${i}`);
        if (i % 10 === 0) await new Promise((r) => setImmediate(r));
      }
    })();
    await posting;
    const seqs: number[] = [];
    while (seqs.length < 160) seqs.push((await a.next('msg')).seq);
    assert.deepEqual(seqs, Array.from({ length: 160 }, (_, i) => i + 1));
    await a.next('resumed');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(a.frames.filter((f) => f.t === 'msg').length, 0, 'no duplicate after the 160th');
    await a.close();
  } finally {
    await v.close(); await h.close();
  }
});

test('resume of a conversation the identity may not join is refused without state change', async () => {
  const h = await startHub();
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const other = await TestClient.connect(h.url, 't1:v2:visitor');
  const foreign = await TestClient.connect(h.url, 't2:a9:agent');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    other.send({ t: 'resume', ref: 'x', conv, after: 0 });
    assert.equal((await other.next('error')).code, 'KEFU_ERR_FORBIDDEN');
    foreign.send({ t: 'resume', ref: 'y', conv, after: 0 });
    const e = await foreign.next('error');
    assert.equal(e.code, 'KEFU_ERR_CONVERSATION_NOT_FOUND');
    assert.equal(e.ref, 'y');
    assert.deepEqual((await h.hub.store.members(conv)).map((m) => m.id), ['v1']);
  } finally {
    await v.close(); await other.close(); await foreign.close(); await h.close();
  }
});
