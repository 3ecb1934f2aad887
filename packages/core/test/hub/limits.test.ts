import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { Hub } from '../../src/hub/hub.js';
import type { DisconnectInfo } from '../../src/hub/types.js';
import { startHub, TestClient, queryAuth, sleep, until } from './helpers.js';

test('impossible options throw with exact messages', () => {
  assert.throws(() => new Hub({} as never), { name: 'TypeError', message: 'options.authenticate must be a function' });
  const auth = queryAuth;
  assert.throws(() => new Hub({ authenticate: auth, maxPayload: 1000, maxBody: 2000 }), { name: 'RangeError', message: 'options.maxBody must not exceed options.maxPayload' });
  assert.throws(() => new Hub({ authenticate: auth, heartbeatMs: 1000, idleTimeoutMs: 500 }), { name: 'RangeError', message: 'options.idleTimeoutMs must be 0 or at least options.heartbeatMs' });
  assert.throws(() => new Hub({ authenticate: auth, rateLimit: { perSec: 0 } }), { name: 'RangeError', message: 'options.rateLimit.perSec must be a positive number' });
  assert.throws(() => new Hub({ authenticate: auth, maxConversationsPerConnection: 0 }), { name: 'RangeError', message: 'options.maxConversationsPerConnection must be an integer >= 1' });
  assert.throws(() => new Hub({ authenticate: auth, highWaterMark: 10 }), { name: 'RangeError', message: 'options.highWaterMark must be an integer >= 1024' });
  assert.throws(() => new Hub({ authenticate: auth, resumePageSize: 5000 }), { name: 'RangeError', message: 'options.resumePageSize must be an integer >= 1 and <= 1000' });
  assert.throws(() => new Hub({ authenticate: auth, origins: 'x' as never }), { name: 'TypeError', message: 'options.origins must be an array of strings' });
});

test('invalid JSON, unknown frames and fields, binary frames, non-members: coded error, no crash, no state change', async () => {
  const h = await startHub();
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const other = await TestClient.connect(h.url, 't1:v2:visitor');
  try {
    other.send({ t: 'open', ref: 'o' });
    const { conv } = await other.next('joined');
    v.ws.send('{not json');
    assert.equal((await v.next('error')).code, 'KEFU_ERR_INVALID_JSON');
    v.ws.send('[1,2]');
    assert.equal((await v.next('error')).code, 'KEFU_ERR_INVALID_FRAME');
    v.send({ t: 'teleport', ref: 'r9' });
    const unk = await v.next('error');
    assert.equal(unk.code, 'KEFU_ERR_UNKNOWN_FRAME');
    assert.equal(unk.ref, 'r9');
    v.send({ t: 'open', ref: 'r1', admin: true } as Record<string, unknown>);
    assert.equal((await v.next('error')).code, 'KEFU_ERR_INVALID_FRAME');
    v.ws.send(Buffer.from('{"t":"ping"}'), { binary: true });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_BINARY_FRAME');
    v.send({ t: 'send', conv, cid: 'c1', body: 'intrude' });
    const nm = await v.next('error');
    assert.deepEqual({ code: nm.code, conv: nm.conv, cid: nm.cid }, { code: 'KEFU_ERR_NOT_MEMBER', conv, cid: 'c1' });
    v.send({ t: 'typing', conv, on: true });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_NOT_MEMBER');
    v.send({ t: 'read', conv, seq: 1 });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_NOT_MEMBER');
    v.send({ t: 'leave', ref: 'l', conv });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_NOT_MEMBER');
    v.send({ t: 'join', ref: 'j', conv });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_FORBIDDEN', 'a visitor may not join another visitor\'s conversation');
    v.send({ t: 'presence', status: 'away' });
    assert.equal((await v.next('error')).code, 'KEFU_ERR_FORBIDDEN');
    v.send({ t: 'ping', ref: 'alive' });
    assert.deepEqual(await v.next('pong'), { t: 'pong', ref: 'alive' });
    assert.equal(await h.hub.store.lastSeq(conv), 0);
    assert.deepEqual((await h.hub.store.members(conv)).map((m) => m.id), ['v2']);
    assert.equal(other.frames.length, 0, 'the member saw nothing');
  } finally {
    await v.close(); await other.close(); await h.close();
  }
});

test('maxPayload: a bigger frame closes the socket with 1009', async () => {
  const h = await startHub({ maxPayload: 1024, maxBody: 500 });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  try {
    v.send({ t: 'ping', ref: 'x'.repeat(100) });
    v.ws.send(JSON.stringify({ t: 'ping', pad: 'x'.repeat(2000) }));
    assert.equal((await v.waitClose()).code, 1009);
  } finally {
    await h.close();
  }
});

test('maxBody: a longer body is refused with KEFU_ERR_PAYLOAD_TOO_LARGE and nothing is stored', async () => {
  const h = await startHub({ maxBody: 10 });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  try {
    v.send({ t: 'open', ref: 'r' });
    const { conv } = await v.next('joined');
    v.send({ t: 'send', conv, cid: 'long', body: '12345678901' });
    const e = await v.next('error');
    assert.deepEqual({ code: e.code, cid: e.cid }, { code: 'KEFU_ERR_PAYLOAD_TOO_LARGE', cid: 'long' });
    v.send({ t: 'send', conv, cid: 'ok', body: '1234567890' });
    assert.equal((await v.next('ack')).seq, 1);
    assert.equal(await h.hub.store.lastSeq(conv), 1);
  } finally {
    await v.close(); await h.close();
  }
});

test('rate limit: frames beyond the bucket get KEFU_ERR_RATE_LIMITED, repeated abuse closes with 1008', async () => {
  const h = await startHub({ rateLimit: { perSec: 1, burst: 3, strikes: 2 } });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  try {
    for (let i = 0; i < 6; i++) v.send({ t: 'ping', ref: `p${i}` });
    for (let i = 0; i < 3; i++) assert.equal((await v.next('pong')).ref, `p${i}`);
    assert.equal((await v.next('error')).code, 'KEFU_ERR_RATE_LIMITED');
    assert.equal((await v.next('error')).code, 'KEFU_ERR_RATE_LIMITED');
    assert.equal((await v.waitClose()).code, 1008);
    assert.ok(h.hub.metrics.snapshot().rateLimited >= 3);
  } finally {
    await h.close();
  }
});

test('rate limit: strikes are forgiven once the bucket has refilled, so a long-lived socket is closed only for abuse in one stretch', async () => {
  const h = await startHub({ rateLimit: { perSec: 20, burst: 2, strikes: 2 } });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  try {
    for (let round = 0; round < 3; round++) {
      // Two frames pass, two are refused (two strikes: one short of the close), then the client
      // waits well past burst / perSec (100 ms) so that the bucket is full again.
      for (let i = 0; i < 4; i++) v.send({ t: 'ping', ref: `r${round}-${i}` });
      for (let i = 0; i < 2; i++) assert.equal((await v.next('pong')).ref, `r${round}-${i}`);
      for (let i = 0; i < 2; i++) assert.equal((await v.next('error')).code, 'KEFU_ERR_RATE_LIMITED');
      await new Promise((r) => setTimeout(r, 400));
    }
    // Six refusals in all, three times the strike limit, and the socket is still open.
    v.send({ t: 'ping', ref: 'last' });
    assert.equal((await v.next('pong')).ref, 'last');
  } finally {
    await v.close(); await h.close();
  }
});

test('max conversations per connection: KEFU_ERR_TOO_MANY_CONVERSATIONS and nothing created', async () => {
  const h = await startHub({ maxConversationsPerConnection: 2 });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  let created = 0;
  h.hub.on('conversation', () => created++);
  try {
    for (const ref of ['a', 'b', 'c']) v.send({ t: 'open', ref });
    await v.next('joined', (f) => f.ref === 'a');
    await v.next('joined', (f) => f.ref === 'b');
    const e = await v.next('error');
    assert.deepEqual({ code: e.code, ref: e.ref }, { code: 'KEFU_ERR_TOO_MANY_CONVERSATIONS', ref: 'c' });
    assert.equal(created, 2);
  } finally {
    await v.close(); await h.close();
  }
});

test('slow consumer: a socket that does not read is closed with 4002 and sends stop (memory bounded)', async () => {
  const h = await startHub({ highWaterMark: 64 * 1024 });
  const v = await TestClient.connect(h.url, 't1:v1:visitor');
  const gone: DisconnectInfo[] = [];
  h.hub.on('disconnect', (d) => gone.push(d));
  try {
    (v.ws as unknown as { _socket: { pause(): void } })._socket.pause();
    const blob = 'x'.repeat(60_000);
    for (let i = 0; i < 3000 && gone.length === 0; i++) {
      h.hub.emitToUser('t1', 'v1', 'blob', { blob });
      if (i % 10 === 9) await sleep(1);
    }
    await until(() => gone.length === 1, 5000, 'disconnect');
    assert.equal(gone[0]!.code, 4002);
    assert.equal(h.hub.metrics.snapshot().slowConsumers, 1);
    assert.equal(h.hub.isOnline('t1', 'v1'), false);
  } finally {
    v.ws.terminate();
    await h.close();
  }
});

/** A client that never answers pings (ws's autoPong off), once welcomed. */
async function deafClient(url: string, as: string): Promise<TestClient> {
  const c = new TestClient(new WebSocket(`${url}?as=${as}`, ['kefu.v1'], { autoPong: false }));
  await c.next('welcome');
  return c;
}

test('heartbeat: one shared sweep; a socket that answers no ping is closed (4000), one that does stays', async () => {
  const h = await startHub({ heartbeatMs: 200, idleTimeoutMs: 0 });
  const gone: DisconnectInfo[] = [];
  h.hub.on('disconnect', (d) => gone.push(d));
  const deaf = await deafClient(h.url, 't1:deaf:visitor');
  const fine = await TestClient.connect(h.url, 't1:fine:visitor');
  try {
    await until(() => gone.length === 1, 3000, 'deaf socket closed');
    assert.equal(gone[0]!.identity.id, 'deaf');
    assert.equal(gone[0]!.code, 4000);
    await sleep(700);
    assert.equal(fine.closed, undefined);
    assert.equal(h.hub.connections, 1);
    assert.equal(h.hub.metrics.snapshot().heartbeatTimeouts, 1);
  } finally {
    deaf.ws.terminate(); await fine.close(); await h.close();
  }
});

test('heartbeat: the pings of an interval are spread over its timer slices, each socket pinged once per interval; a deaf socket is still closed', async () => {
  // 1,000 ms = 10 slices of 100 ms (sweepSlices): 30 sockets get their pings in several turns,
  // not in one burst, and each gets about one per interval.
  const h = await startHub({ heartbeatMs: 1000, idleTimeoutMs: 0 });
  const gone: DisconnectInfo[] = [];
  h.hub.on('disconnect', (d) => gone.push(d));
  const pings: number[][] = [];
  const clients: TestClient[] = [];
  try {
    for (let i = 0; i < 30; i++) {
      const c = await TestClient.connect(h.url, `t1:s${i}:visitor`);
      const times: number[] = [];
      c.ws.on('ping', () => times.push(performance.now()));
      pings.push(times);
      clients.push(c);
    }
    clients.push(await deafClient(h.url, 't1:deaf:visitor'));
    const t0 = performance.now();
    await until(() => pings.every((t) => t.length >= 2), 8000, 'two pings on every socket');
    // Spread: the first pings of the 30 sockets did not all arrive in one turn of the event loop.
    const firsts = pings.map((t) => t[0]!).sort((a, b) => a - b);
    assert.ok(firsts.at(-1)! - firsts[0]! >= 150, `first pings spread over ${Math.round(firsts.at(-1)! - firsts[0]!)} ms`);
    // Once per interval: no socket got a third ping within the ~2 intervals it took all to get two.
    const elapsed = performance.now() - t0;
    for (const t of pings) assert.ok(t.length <= Math.ceil(elapsed / 1000) + 1, `${t.length} pings in ${Math.round(elapsed)} ms`);
    await until(() => gone.some((d) => d.identity.id === 'deaf'), 5000, 'deaf socket closed');
    assert.equal(gone.find((d) => d.identity.id === 'deaf')!.code, 4000);
    assert.equal(gone.length, 1);
    assert.equal(h.hub.metrics.snapshot().heartbeatTimeouts, 1);
  } finally {
    for (const c of clients) c.ws.terminate();
    await h.close();
  }
});

test('heartbeat: a socket that sent a frame since the last sweep is not pinged (its frame proves it alive); a silent one is, and a silent deaf one is still closed', async () => {
  const h = await startHub({ heartbeatMs: 200, idleTimeoutMs: 0 });
  const gone: DisconnectInfo[] = [];
  h.hub.on('disconnect', (d) => gone.push(d));
  // Deaf to pings (no pong ever) but talking: only its frames can keep it open.
  const talker = await deafClient(h.url, 't1:talker:visitor');
  const chatter = setInterval(() => talker.send({ t: 'ping' }), 40);
  const quiet = await TestClient.connect(h.url, 't1:quiet:visitor');
  const silentDeaf = await deafClient(h.url, 't1:silent:visitor');
  let talkerPings = 0;
  let quietPings = 0;
  talker.ws.on('ping', () => talkerPings++);
  quiet.ws.on('ping', () => quietPings++);
  try {
    await until(() => gone.some((d) => d.identity.id === 'silent'), 3000, 'silent deaf socket closed');
    assert.equal(gone.find((d) => d.identity.id === 'silent')!.code, 4000);
    await until(() => quietPings >= 4, 3000, 'four pings on the quiet socket');
    // The talker sent a frame every 40 ms, so every visit of the 200 ms sweep found one: at most the
    // ping of a visit that came before its first frame.
    assert.ok(talkerPings <= 1, `talker got ${talkerPings} pings`);
    assert.equal(talker.closed, undefined);
    assert.equal(quiet.closed, undefined);
    assert.equal(gone.length, 1);
    assert.equal(h.hub.metrics.snapshot().heartbeatTimeouts, 1);
    // Once it falls silent, the deaf talker is pinged, does not answer, and is closed like any deaf socket.
    clearInterval(chatter);
    await until(() => gone.some((d) => d.identity.id === 'talker'), 3000, 'deaf talker closed once silent');
    assert.equal(gone.find((d) => d.identity.id === 'talker')!.code, 4000);
    assert.equal(h.hub.metrics.snapshot().heartbeatTimeouts, 2);
  } finally {
    clearInterval(chatter);
    talker.ws.terminate(); silentDeaf.ws.terminate(); await quiet.close(); await h.close();
  }
});

test('idle timeout: a socket that sends no frame is closed with 4001; an active one stays', async () => {
  const h = await startHub({ heartbeatMs: 150, idleTimeoutMs: 450 });
  const idle = await TestClient.connect(h.url, 't1:idle:visitor');
  const busy = await TestClient.connect(h.url, 't1:busy:visitor');
  const pinger = setInterval(() => busy.send({ t: 'ping' }), 100);
  try {
    assert.equal((await idle.waitClose(3000)).code, 4001);
    await sleep(300);
    assert.equal(busy.closed, undefined);
  } finally {
    clearInterval(pinger);
    await busy.close(); await h.close();
  }
});
