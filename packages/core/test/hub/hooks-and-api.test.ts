import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KefuError } from '@kefu/protocol';
import { Registry } from 'prom-client';
import { startHub, TestClient, sleep } from './helpers.js';

async function pair(url: string): Promise<{ v: TestClient; a: TestClient; conv: string }> {
  const v = await TestClient.connect(url, 't1:v1:visitor:Ann');
  const a = await TestClient.connect(url, 't1:a1:agent:Bob');
  v.send({ t: 'open', ref: 'r' });
  const { conv } = await v.next('joined');
  a.send({ t: 'join', ref: 'j', conv });
  await a.next('joined');
  await v.next('member');
  return { v, a, conv };
}

test('beforeMessage can transform a message or reject it with KEFU_ERR_REJECTED (nothing stored)', async () => {
  const h = await startHub({
    beforeMessage: async ({ message, identity }) => {
      if (message.body.includes('spam')) throw new KefuError('KEFU_ERR_REJECTED', 'no spam');
      return { body: message.body.replace(/damn/g, '****'), data: { checkedBy: identity.id } };
    },
  });
  const { v, a, conv } = await pair(h.url);
  try {
    v.send({ t: 'send', conv, cid: 'c1', body: 'damn printer' });
    const m = await a.next('msg');
    assert.equal(m.body, '**** printer');
    assert.deepEqual(m.data, { checkedBy: 'v1' });
    v.send({ t: 'send', conv, cid: 'c2', body: 'buy spam' });
    const e = await v.next('error');
    assert.deepEqual({ code: e.code, cid: e.cid, conv: e.conv, message: e.message }, { code: 'KEFU_ERR_REJECTED', cid: 'c2', conv, message: 'no spam' });
    assert.equal(await h.hub.store.lastSeq(conv), 1);
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});

test('typed events: connection, conversation, join, message, typing, read, leave, disconnect', async () => {
  const h = await startHub({ typingThrottleMs: 10_000 });
  const seen: string[] = [];
  for (const e of ['connection', 'conversation', 'join', 'message', 'typing', 'read', 'leave', 'disconnect'] as const) h.hub.on(e, () => seen.push(e));
  const { v, a, conv } = await pair(h.url);
  try {
    v.send({ t: 'send', conv, cid: 'c1', body: 'hi' });
    await a.next('msg');
    // typing: throttled per connection and conversation; "off" always passes
    v.send({ t: 'typing', conv, on: true });
    v.send({ t: 'typing', conv, on: true });
    v.send({ t: 'typing', conv, on: false });
    v.send({ t: 'typing', conv, on: true });
    const t1 = await a.next('typing');
    assert.deepEqual(t1, { t: 'typing', conv, from: { id: 'v1', role: 'visitor', name: 'Ann' }, on: true });
    assert.equal((await a.next('typing')).on, false);
    assert.equal((await a.next('typing')).on, true);
    await sleep(50);
    assert.equal(a.frames.filter((f) => f.t === 'typing').length, 0, 'the throttled one was dropped');
    a.send({ t: 'read', conv, seq: 1 });
    assert.deepEqual(await v.next('read'), { t: 'read', conv, from: { id: 'a1', role: 'agent', name: 'Bob' }, seq: 1 });
    assert.equal((await h.hub.store.members(conv)).find((m) => m.id === 'a1')?.readSeq, 1);
    a.send({ t: 'leave', ref: 'bye', conv });
    assert.deepEqual(await a.next('left'), { t: 'left', ref: 'bye', conv });
    assert.deepEqual(await v.next('member'), { t: 'member', conv, user: { id: 'a1', role: 'agent', name: 'Bob' }, joined: false });
    assert.equal(await h.hub.store.isMember(conv, 'a1'), false);
    a.send({ t: 'send', conv, cid: 'after', body: 'x' });
    assert.equal((await a.next('error')).code, 'KEFU_ERR_NOT_MEMBER');
  } finally {
    await v.close(); await a.close();
    await sleep(20);
    await h.close();
  }
  for (const e of ['connection', 'conversation', 'join', 'message', 'typing', 'read', 'leave', 'disconnect']) assert.ok(seen.includes(e), e);
  assert.equal(seen.filter((e) => e === 'typing').length, 3);
});

test('agent presence: online on connect, away/online by frame, offline on the last disconnect', async () => {
  const h = await startHub();
  const watcher = await TestClient.connect(h.url, 't1:a0:agent');
  const other = await TestClient.connect(h.url, 't2:ax:agent');
  try {
    const a = await TestClient.connect(h.url, 't1:a1:agent:Bob');
    assert.deepEqual(await watcher.next('presence'), { t: 'presence', user: { id: 'a1', role: 'agent', name: 'Bob' }, status: 'online' });
    const a2 = await TestClient.connect(h.url, 't1:a1:agent:Bob');
    a.send({ t: 'presence', status: 'away' });
    assert.equal((await watcher.next('presence')).status, 'away');
    a.send({ t: 'presence', status: 'away' });
    a.send({ t: 'presence', status: 'online' });
    assert.equal((await watcher.next('presence')).status, 'online');
    await a.close();
    await sleep(50);
    assert.equal(watcher.frames.filter((f) => f.t === 'presence').length, 0, 'still online through the second socket');
    assert.equal(h.hub.isOnline('t1', 'a1'), true);
    await a2.close();
    assert.equal((await watcher.next('presence')).status, 'offline');
    assert.equal(h.hub.isOnline('t1', 'a1'), false);
    assert.equal(other.frames.filter((f) => f.t === 'presence').length, 0, 'other tenants see nothing');
  } finally {
    await watcher.close(); await other.close(); await h.close();
  }
});

test('server API: createConversation, addMember, post, emitToUser, emitToConversation, removeMember, closeConversation', async () => {
  const h = await startHub();
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const a = await TestClient.connect(h.url, 't1:a1:agent');
  try {
    const conv = await h.hub.createConversation({ tenant: 't1', visitor: { id: 'v1', role: 'visitor' }, data: { channel: 'web' } });
    v.send({ t: 'join', ref: 'j', conv: conv.id });
    const vj = await v.next('joined');
    assert.deepEqual(vj.data, { channel: 'web' });
    await h.hub.addMember(conv.id, { id: 'a1', role: 'agent', name: 'Bob' });
    const aj = await a.next('joined');
    assert.equal(aj.conv, conv.id);
    assert.equal(aj.ref, undefined);
    assert.equal((await v.next('member')).user.id, 'a1');
    const posted = await h.hub.post(conv.id, { id: 'bot', role: 'bot', name: 'Kefu' }, 'Welcome!');
    assert.equal(posted.seq, 1);
    for (const c of [v, a]) assert.equal((await c.next('msg')).body, 'Welcome!');
    h.hub.emitToUser('t1', 'a1', 'offer', { conv: conv.id });
    assert.deepEqual(await a.next('event'), { t: 'event', name: 'offer', data: { conv: conv.id } });
    h.hub.emitToConversation(conv.id, 'queue.position', { n: 3 });
    assert.deepEqual(await v.next('event'), { t: 'event', name: 'queue.position', conv: conv.id, data: { n: 3 } });
    assert.throws(() => h.hub.emitToUser('t1', 'a1', 'bad name!', {}), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
    assert.equal(await h.hub.removeMember(conv.id, 'a1', 'transferred'), true);
    assert.deepEqual(await a.next('left'), { t: 'left', conv: conv.id, reason: 'transferred' });
    await h.hub.closeConversation(conv.id, 'resolved');
    assert.deepEqual(await v.next('event', (f) => f.name === 'conversation.closed'), { t: 'event', name: 'conversation.closed', conv: conv.id, data: { reason: 'resolved' } });
    v.send({ t: 'send', conv: conv.id, cid: 'late', body: 'hello?' });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_CONVERSATION_CLOSED');
    await assert.rejects(h.hub.addMember('missing', { id: 'x', role: 'agent' }), { code: 'KEFU_ERR_CONVERSATION_NOT_FOUND' });
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});

test('commands: result frame, KefuError -> coded error frame, unknown name, membership required for conv', async () => {
  const h = await startHub();
  h.hub.command('rate', (ctx, args) => {
    if (args.stars === 0) throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'not rateable yet');
    return { thanks: ctx.identity.id, conv: ctx.conv ?? null };
  });
  h.hub.command('crash', () => { throw new Error('bug'); });
  assert.throws(() => h.hub.command('bad name', () => undefined), { name: 'TypeError' });
  const errors: Error[] = [];
  h.hub.on('error', (e) => errors.push(e));
  const { v, a, conv } = await pair(h.url);
  try {
    v.send({ t: 'cmd', ref: 'c1', name: 'rate', conv, args: { stars: 5 } });
    assert.deepEqual(await v.next('result'), { t: 'result', ref: 'c1', data: { thanks: 'v1', conv } });
    v.send({ t: 'cmd', ref: 'c2', name: 'rate', args: { stars: 0 } });
    const e = await v.next('error');
    assert.deepEqual({ code: e.code, ref: e.ref }, { code: 'KEFU_ERR_DESK_INVALID_STATE', ref: 'c2' });
    v.send({ t: 'cmd', ref: 'c3', name: 'nope' });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_UNKNOWN_COMMAND');
    v.send({ t: 'cmd', ref: 'c4', name: 'rate', conv: 'not-mine' });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_NOT_MEMBER');
    v.send({ t: 'cmd', ref: 'c5', name: 'crash' });
    const ie = await v.next('error');
    assert.deepEqual({ code: ie.code, message: ie.message }, { code: 'KEFU_ERR_INTERNAL', message: 'internal error; nothing was applied' });
    assert.equal(errors.length, 1);
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});

test('metrics: counters and the append->ack histogram are readable by prom-client', async () => {
  const h = await startHub();
  const { v, a, conv } = await pair(h.url);
  try {
    for (let i = 0; i < 3; i++) { v.send({ t: 'send', conv, cid: `c${i}`, body: 'x' }); await v.next('ack'); }
    const snap = h.hub.metrics.snapshot();
    assert.equal(snap.connections, 2);
    assert.equal(snap.messagesStored, 3);
    const text = await h.hub.metrics.text();
    assert.match(text, /kefu_hub_messages_stored_total 3/);
    assert.match(text, /kefu_hub_connections 2/);
    assert.match(text, /kefu_hub_append_ack_seconds_count 3/);
    const merged = Registry.merge([h.hub.metrics.register, new Registry()]);
    assert.match(await merged.metrics(), /kefu_hub_frames_in_total/);
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});

test('graceful close: in-flight sends are acked before sockets close with 1001; the store is closed', async () => {
  let release!: () => void;
  const gate = new Promise<void>((r) => { release = r; });
  const h = await startHub({ beforeMessage: async ({ message }) => { await gate; return message; } });
  const { v, a, conv } = await pair(h.url);
  v.send({ t: 'send', conv, cid: 'inflight', body: 'x' });
  await sleep(30);
  const closing = h.close();
  setTimeout(release, 50);
  const ack = await v.next('ack');
  assert.equal(ack.cid, 'inflight');
  assert.equal((await v.waitClose()).code, 1001);
  assert.equal((await a.waitClose()).code, 1001);
  await closing;
  assert.equal(h.hub.store.status, 'closed');
  await assert.rejects(h.hub.createConversation({ tenant: 't1', visitor: { id: 'v', role: 'visitor' } }), { code: 'KEFU_ERR_SHUTTING_DOWN' });
  await assert.rejects(h.hub.closeConversation(conv), { code: 'KEFU_ERR_SHUTTING_DOWN' });
  await assert.rejects(h.hub.post(conv, { id: 'bot', role: 'bot' }, 'late'), { code: 'KEFU_ERR_SHUTTING_DOWN' });
});

test('graceful close is bounded by drainTimeoutMs when a handler never finishes', async () => {
  const h = await startHub({ drainTimeoutMs: 100, beforeMessage: () => new Promise(() => {}) });
  const { v, a, conv } = await pair(h.url);
  v.send({ t: 'send', conv, cid: 'stuck', body: 'x' });
  await sleep(30);
  const started = Date.now();
  await h.close();
  assert.ok(Date.now() - started < 3000);
  assert.equal((await v.waitClose()).code, 1001);
  assert.equal((await a.waitClose()).code, 1001);
  assert.equal(v.frames.filter((f) => f.t === 'ack').length, 0, 'never acked: it was never stored');
  assert.equal(h.hub.store.status, 'closed');
});

test('an async beforeMessage with uneven delays keeps one socket\'s sends in order', async () => {
  const delays = [40, 0, 25, 5, 30, 0, 10, 20, 0, 15];
  let i = 0;
  const h = await startHub({ beforeMessage: async ({ message }) => { await sleep(delays[i++ % delays.length]!); return message; } });
  const { v, a, conv } = await pair(h.url);
  try {
    for (let k = 0; k < 10; k++) v.send({ t: 'send', conv, cid: `c${k}`, body: `m${k}` });
    for (let k = 0; k < 10; k++) assert.equal((await a.next('msg')).body, `m${k}`);
    assert.deepEqual((await h.hub.store.range(conv)).map((m) => m.cid), Array.from({ length: 10 }, (_, k) => `c${k}`));
  } finally {
    await v.close(); await a.close(); await h.close();
  }
});
