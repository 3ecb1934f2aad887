/**
 * Close codes: a plain `ws` server on loopback sends `welcome` and then closes with a chosen
 * code, so that each code's client reaction is tested exactly (the hub has no "kick" API yet).
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { CloseCode, PROTOCOL } from '@kefu/protocol';
import { client, once, until } from './helpers/hub.js';
import { isKefuError, type KefuClient } from '../src/index.js';

const welcome = JSON.stringify({
  t: 'welcome', v: 1, session: 's', user: { id: 'u', role: 'visitor', tenant: 't1' }, heartbeatMs: 30_000,
  limits: { maxPayload: 65536, maxBody: 16000, ratePerSec: 50, rateBurst: 100, maxConversations: 100 },
});

async function closingServer(code: number): Promise<{ url: string; connections: () => number; tokens: string[]; close(): Promise<void> }> {
  const tokens: string[] = [];
  let n = 0;
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(PROTOCOL) ? PROTOCOL : false) });
  wss.on('connection', (ws, req) => {
    n++;
    tokens.push(new URL(req.url ?? '/', 'http://x').searchParams.get('token') ?? '');
    ws.send(welcome);
    setTimeout(() => ws.close(code, 'test'), 20);
  });
  await once(wss, 'listening');
  const addr = wss.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `ws://127.0.0.1:${port}/kefu`, connections: () => n, tokens, close: () => new Promise((r) => wss.close(() => r())) };
}

const clients: KefuClient[] = [];
after(() => { for (const c of clients) c.close(); });

for (const code of [CloseCode.KICKED, CloseCode.POLICY_VIOLATION, CloseCode.MESSAGE_TOO_BIG, CloseCode.NORMAL]) {
  test(`terminal close ${code}: no reconnect, outbox rejected, state closed`, async () => {
    const srv = await closingServer(code);
    const c = client(srv.url, 'u', 'visitor');
    clients.push(c);
    await c.connect();
    const pending = c.send('conv-x', 'never sent'); // waits for a resume that cannot come
    const closed = once<{ code: number }>(c, 'close');
    assert.equal((await closed).code, code);
    assert.equal(c.state, 'closed');
    await assert.rejects(pending, (e: unknown) => isKefuError(e, 'KEFU_ERR_CLOSED'));
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(srv.connections(), 1, 'no reconnect');
    await srv.close();
  });
}

for (const code of [CloseCode.GOING_AWAY, CloseCode.AUTH_EXPIRED, CloseCode.TRY_AGAIN_LATER, CloseCode.SLOW_CONSUMER]) {
  test(`non-terminal close ${code}: reconnects with a freshly fetched token`, async () => {
    const srv = await closingServer(code);
    let fetched = 0;
    const c = client(srv.url, 'u', 'visitor', { token: () => `tok-${++fetched}` });
    clients.push(c);
    const attempts: number[] = [];
    c.on('reconnecting', (i) => attempts.push(i.code));
    await c.connect();
    await until(() => srv.connections() >= 3, 5000, 'three connections');
    c.close();
    assert.equal(attempts[0], code);
    assert.deepEqual(srv.tokens.slice(0, 3), ['tok-1', 'tok-2', 'tok-3']);
    await srv.close();
  });
}

test('reconnect.maxAttempts: gives up after that many failed attempts and closes', async () => {
  const c = client('ws://127.0.0.1:1/kefu', 'u', 'visitor', { reconnect: { minDelayMs: 5, maxDelayMs: 10, maxAttempts: 3 } });
  clients.push(c);
  let attempts = 0;
  c.on('reconnecting', () => attempts++);
  const p = c.connect();
  await assert.rejects(p, (e: unknown) => isKefuError(e, 'KEFU_ERR_CLIENT_DISCONNECTED'));
  assert.equal(attempts, 3);
  assert.equal(c.state, 'closed');
});

test('heartbeatMs: a silent server is detected (ping, then reconnect after twice the interval)', async () => {
  let n = 0;
  const pings: string[] = [];
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: () => PROTOCOL });
  wss.on('connection', (ws) => { n++; ws.send(welcome); ws.on('message', (d) => pings.push(String(d))); /* then silence */ });
  await once(wss, 'listening');
  const addr = wss.address();
  const c = client(`ws://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/kefu`, 'u', 'visitor', { heartbeatMs: 60 });
  clients.push(c);
  const reasons: number[] = [];
  c.on('disconnect', (i) => reasons.push(i.code));
  await c.connect();
  await until(() => n >= 2, 5000, 'a reconnect after the silence');
  c.close();
  assert.equal(reasons[0], 4000);
  assert.ok(pings.some((p) => JSON.parse(p).t === 'ping'), 'an application ping was sent first');
  await new Promise<void>((r) => wss.close(() => r()));
});
