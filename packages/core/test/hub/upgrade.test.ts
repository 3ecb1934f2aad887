import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { KefuError } from '@kefu/protocol';
import { startHub, TestClient } from './helpers.js';

/** Tries an upgrade; resolves the HTTP status and JSON body of a refusal, or 101. */
function tryUpgrade(url: string, opts: { protocols?: string[]; origin?: string } = {}): Promise<{ status: number; body?: { code: string } }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, opts.protocols ?? ['kefu.v1'], { ...(opts.origin ? { origin: opts.origin } : {}), handshakeTimeout: 3000 });
    ws.on('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += String(d); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text ? JSON.parse(text) : undefined }));
    });
    ws.on('open', () => { ws.close(); resolve({ status: 101 }); });
    ws.on('error', (e) => { if (!/Unexpected server response/.test(e.message)) reject(e); });
  });
}

test('refusals happen before the upgrade, with HTTP status and a coded body', async () => {
  const h = await startHub({ origins: ['https://shop.example'] });
  try {
    const ok = `${h.url}?as=t1:v1:visitor`;
    assert.equal((await tryUpgrade(ok, { origin: 'https://shop.example' })).status, 101);
    assert.deepEqual(await tryUpgrade(ok, { origin: 'https://evil.example' }), { status: 403, body: { code: 'KEFU_ERR_ORIGIN_NOT_ALLOWED', message: 'origin not allowed' } });
    assert.equal((await tryUpgrade(ok)).status, 403, 'no Origin header is refused when an allow-list is set');
    const noProto = await tryUpgrade(ok, { origin: 'https://shop.example', protocols: ['chat'] });
    assert.equal(noProto.status, 400);
    assert.equal(noProto.body?.code, 'KEFU_ERR_INVALID_ARGUMENT');
    const noAuth = await tryUpgrade(h.url, { origin: 'https://shop.example' });
    assert.equal(noAuth.status, 401);
    assert.equal(noAuth.body?.code, 'KEFU_ERR_UNAUTHORIZED');
    assert.equal(h.hub.connections, 0);
  } finally {
    await h.close();
  }
});

test('authenticate: thrown errors give 401, KefuError FORBIDDEN gives 403, invalid identities 401 + error event', async () => {
  const errors: Error[] = [];
  const h = await startHub({
    authenticate: (req) => {
      if (req.url?.includes('boom')) throw new Error('db down');
      if (req.url?.includes('banned')) throw new KefuError('KEFU_ERR_FORBIDDEN', 'banned');
      if (req.url?.includes('bad')) return { tenant: 't1', id: 'has space', role: 'visitor' };
      return Promise.resolve({ tenant: 't1', id: 'u1', role: 'agent' });
    },
  });
  h.hub.on('error', (e) => errors.push(e));
  try {
    assert.equal((await tryUpgrade(`${h.url}?boom`)).status, 401);
    assert.deepEqual(await tryUpgrade(`${h.url}?banned`), { status: 403, body: { code: 'KEFU_ERR_FORBIDDEN', message: 'banned' } });
    assert.equal((await tryUpgrade(`${h.url}?bad`)).status, 401);
    assert.equal(errors.length, 1);
    assert.match(errors[0]!.message, /invalid identity/);
    assert.equal((await tryUpgrade(`${h.url}?fine`)).status, 101);
  } finally {
    await h.close();
  }
});

test('welcome announces the identity and limits; other paths are left to the host', async () => {
  const h = await startHub({ maxBody: 500, rateLimit: { perSec: 7, burst: 9 }, maxConversationsPerConnection: 3, heartbeatMs: 1000, idleTimeoutMs: 0 });
  const c = new TestClient(new WebSocket(`${h.url}?as=t1:v1:visitor:Ann`, ['kefu.v1']));
  try {
    const w = await c.next('welcome');
    assert.equal(c.ws.protocol, 'kefu.v1');
    assert.deepEqual({ ...w, session: 'x' }, {
      t: 'welcome', v: 1, session: 'x', user: { id: 'v1', role: 'visitor', name: 'Ann', tenant: 't1' }, heartbeatMs: 1000,
      limits: { maxPayload: 65536, maxBody: 500, ratePerSec: 7, rateBurst: 9, maxConversations: 3 },
    });
    // Not the hub's path, and the host has no other upgrade handler: 404 instead of a hanging socket.
    const other = await tryUpgrade(h.url.replace('/kefu', '/elsewhere') + '?as=t1:v1:visitor');
    assert.equal(other.status, 404);
  } finally {
    await c.close();
    await h.close();
  }
});

test('after close() begins, upgrades get 503 and live sockets close with 1001', async () => {
  const h = await startHub();
  const c = await TestClient.connect(h.url, 't1:v1:visitor');
  const closing = h.close();
  const { code } = await c.waitClose();
  assert.equal(code, 1001);
  await closing;
  assert.equal(h.hub.store.status, 'closed');
});
