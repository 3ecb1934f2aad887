/** KefuClient against a real Hub on loopback: every frame type, limits, terminal closes. */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { type MessageFrame, type TypingEventFrame, type ReadEventFrame, type EventFrame } from '@kefu/protocol';
import { client, once, startHub, until, type TestHub } from './helpers/hub.js';
import { isKefuError, type KefuClient } from '../src/index.js';

let h: TestHub;
const open: KefuClient[] = [];
const mk = (...a: Parameters<typeof client>): KefuClient => { const c = client(...a); open.push(c); return c; };

before(async () => {
  h = await startHub({ typingThrottleMs: 0 });
  h.hub.command('echo', (ctx, args) => ({ args, user: ctx.identity.id }));
  h.hub.command('fail', () => { throw new Error('boom'); });
});
after(async () => { for (const c of open) c.close(); await h.close(); });

test('open, send (ack), message to the other member, own message delivered once from the ack', async () => {
  const v = mk(h.url, 'v1', 'visitor');
  const a = mk(h.url, 'a1', 'agent');
  const welcome = await v.connect();
  assert.equal(welcome.user.id, 'v1');
  assert.equal(v.state, 'open');
  const joined = await v.open({ page: '/shop' });
  await a.connect();
  await a.join(joined.conv);
  const got: MessageFrame[] = [];
  const mine: MessageFrame[] = [];
  a.on('message', (m) => got.push(m));
  v.on('message', (m) => mine.push(m));
  const ack = await v.send(joined.conv, 'hello');
  assert.equal(ack.seq, 1);
  await until(() => got.length === 1, 5000, 'agent receives');
  assert.equal(got[0]!.body, 'hello');
  assert.equal(got[0]!.from.id, 'v1');
  assert.deepEqual(mine.map((m) => [m.seq, m.body, m.from.id]), [[1, 'hello', 'v1']]);
  assert.equal(v.lastSeq(joined.conv), 1);
  assert.equal(a.lastSeq(joined.conv), 1);
  assert.equal(v.pendingMessages().length, 0);
});

test('history replays from 0 with resumed; typing is throttled; reads are coalesced', async () => {
  const v = mk(h.url, 'v2', 'visitor', { typingThrottleMs: 10_000 });
  const a = mk(h.url, 'a2', 'agent');
  const { conv } = await v.open();
  for (let i = 1; i <= 3; i++) await v.send(conv, `m${i}`);
  await a.connect();
  await a.join(conv);
  const seen: number[] = [];
  a.on('message', (m) => seen.push(m.seq));
  const r = await a.history(conv);
  assert.equal(r.seq, 3);
  assert.deepEqual(seen, [1, 2, 3]);
  const typing: TypingEventFrame[] = [];
  a.on('typing', (t) => typing.push(t));
  v.typing(conv, true); v.typing(conv, true); v.typing(conv, true); // throttled to one
  v.typing(conv, false);
  await until(() => typing.length === 2, 5000, 'typing frames');
  assert.deepEqual(typing.map((t) => t.on), [true, false]);
  const reads: ReadEventFrame[] = [];
  v.on('read', (x) => reads.push(x));
  a.read(conv, 2); a.read(conv, 1); a.read(conv, 3); a.read(conv, 3);
  await until(() => reads.some((x) => x.seq === 3), 5000, 'read 3');
  await new Promise((res) => setTimeout(res, 50));
  assert.deepEqual(reads.map((x) => x.seq), [2, 3], 'lower and equal seqs are not sent');
});

test('command resolves with result data; a handler error and an unknown command reject with their codes', async () => {
  const v = mk(h.url, 'v3', 'visitor');
  assert.deepEqual(await v.command('echo', { x: 1 }), { args: { x: 1 }, user: 'v3' });
  await assert.rejects(v.command('nope'), (e: unknown) => isKefuError(e, 'KEFU_ERR_UNKNOWN_COMMAND'));
  await assert.rejects(v.command('fail'), (e: unknown) => isKefuError(e, 'KEFU_ERR_INTERNAL'));
  await v.ping();
});

test('events, leave and errors for sends to a conversation one is not in', async () => {
  const v = mk(h.url, 'v4', 'visitor');
  const { conv } = await v.open();
  const ev = once<EventFrame>(v, 'event');
  h.hub.emitToUser('t1', 'v4', 'desk.queue_position', { position: 2 });
  assert.deepEqual((await ev).data, { position: 2 });
  const left = await v.leave(conv);
  assert.equal(left.conv, conv);
  assert.deepEqual(v.conversations, []);
  const other = mk(h.url, 'v5', 'visitor');
  const o = await other.open();
  // v4 may not enter v5's conversation: the send is refused and leaves the outbox.
  await assert.rejects(v.send(o.conv, 'intrude'), (e: unknown) => isKefuError(e, 'KEFU_ERR_FORBIDDEN'));
  assert.equal(v.pendingMessages().length, 0);
});

test('maxOutbox: one send over the limit rejects with KEFU_ERR_CLIENT_OUTBOX_FULL', async () => {
  const v = mk('ws://127.0.0.1:1/kefu', 'v6', 'visitor', { maxOutbox: 2, reconnect: { enabled: false } });
  const p1 = v.send('c1', 'a');
  const p2 = v.send('c1', 'b');
  await assert.rejects(v.send('c1', 'c'), (e: unknown) => isKefuError(e, 'KEFU_ERR_CLIENT_OUTBOX_FULL'));
  assert.equal(v.pendingMessages('c1').length, 2);
  v.close();
  await assert.rejects(p1, (e: unknown) => isKefuError(e));
  await assert.rejects(p2, (e: unknown) => isKefuError(e));
});

test('request timeout rejects with KEFU_ERR_TIMEOUT', async () => {
  h.hub.command('slow', () => new Promise((r) => setTimeout(() => r({}), 1000)));
  const v = mk(h.url, 'v7', 'visitor', { requestTimeoutMs: 100 });
  await assert.rejects(v.command('slow'), (e: unknown) => isKefuError(e, 'KEFU_ERR_TIMEOUT'));
});

test('close() is final: state closed, no reconnect, later sends reject with KEFU_ERR_CLOSED', async () => {
  const v = mk(h.url, 'v8', 'visitor');
  const { conv } = await v.open();
  let reconnects = 0;
  v.on('reconnecting', () => reconnects++);
  const closed = once<{ code: number }>(v, 'close');
  v.close();
  assert.equal((await closed).code, 1000);
  assert.equal(reconnects, 0);
  assert.equal(v.state, 'closed');
  await assert.rejects(v.send(conv, 'late'), (e: unknown) => isKefuError(e, 'KEFU_ERR_CLOSED'));
  await assert.rejects(v.connect(), (e: unknown) => isKefuError(e, 'KEFU_ERR_CLOSED'));
});

test('an ack that overtakes a replay is held: history then own message, contiguous', async () => {
  const paged = await startHub({ resumePageSize: 5, rateLimit: { perSec: 1000, burst: 1000 } });
  try {
    const v = client(paged.url, 'v9', 'visitor');
    open.push(v);
    const { conv } = await v.open();
    for (let i = 0; i < 60; i++) await v.send(conv, `m${i}`);
    const seen: number[] = [];
    v.on('message', (m) => seen.push(m.seq));
    const sent = v.send(conv, 'during replay'); // written now; its ack races the replay below
    const r = await v.history(conv);
    await sent;
    await until(() => seen.includes(61), 5000, 'own message delivered');
    assert.ok(r.seq >= 60);
    assert.deepEqual(seen, Array.from({ length: 61 }, (_, i) => i + 1), 'replay 1..60 and the own message, in order, once each');
  } finally {
    await paged.close();
  }
});

test('rate limit: sends are paced below the announced limit; no refusal for a burst of 15', async () => {
  const slow = await startHub({ rateLimit: { perSec: 10, burst: 5, strikes: 3 } });
  try {
    const v = client(slow.url, 'v10', 'visitor');
    open.push(v);
    const errors: string[] = [];
    v.on('error', (e) => errors.push(e.code));
    const { conv } = await v.open();
    const bodies = Array.from({ length: 15 }, (_, i) => `p${i}`);
    const acks = await Promise.all(bodies.map((b) => v.send(conv, b)));
    assert.deepEqual(acks.map((a) => a.seq), Array.from({ length: 15 }, (_, i) => i + 1), 'stored in the order written');
    assert.deepEqual(errors, [], 'the hub refused nothing');
    assert.equal(v.state, 'open', 'and did not close the connection (strikes: 3)');
  } finally {
    await slow.close();
  }
});

test('rate limit: sends refused with KEFU_ERR_RATE_LIMITED (named by cid, or unnamed after typing) are written again and stored once each', async () => {
  const slow = await startHub({ rateLimit: { perSec: 10, burst: 5, strikes: 1000 }, typingThrottleMs: 0 });
  try {
    const v = client(slow.url, 'v11', 'visitor', { typingThrottleMs: 0 });
    open.push(v);
    const { conv } = await v.open();
    const limited: string[] = [];
    v.on('error', (e) => limited.push(e.code));
    // Typing is not paced: this spends the hub's tokens so that the sends below are refused.
    for (let i = 0; i < 10; i++) { v.typing(conv, true); v.typing(conv, false); }
    const bodies = Array.from({ length: 6 }, (_, i) => `r${i}`);
    const acks = await Promise.all(bodies.map((b) => v.send(conv, b)));
    assert.equal(new Set(acks.map((a) => a.seq)).size, 6);
    const stored = await slow.hub.store.range(conv, { after: 0, limit: 100 });
    assert.deepEqual(stored.map((m) => m.body).sort(), [...bodies].sort(), 'each stored exactly once');
    assert.ok(limited.length > 0 && limited.every((c) => c === 'KEFU_ERR_RATE_LIMITED'), 'refusals are reported as error events');
    assert.equal(v.pendingMessages().length, 0);
  } finally {
    await slow.close();
  }
});
