import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { SignJWT, generateKeyPair, exportJWK } from 'jose';
import { jwtAuthenticator } from '../../src/hub/jwt-authenticator.js';
import { startHub, TestClient } from './helpers.js';

const secret = 'a-test-secret-that-is-at-least-32-bytes-long';
const key = new TextEncoder().encode(secret);

function req(url: string, headers: Record<string, string> = {}): IncomingMessage {
  return { url, headers } as unknown as IncomingMessage;
}

async function hs(claims: Record<string, unknown>, exp: string | number = '1h', extra?: (j: SignJWT) => SignJWT): Promise<string> {
  let j = new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setIssuedAt().setExpirationTime(exp);
  if (extra) j = extra(j);
  return j.sign(key);
}

test('options are validated', () => {
  assert.throws(() => jwtAuthenticator({}), { name: 'TypeError', message: 'exactly one of options.secret and options.jwks is required' });
  assert.throws(() => jwtAuthenticator({ secret: 'short' }), { name: 'RangeError', message: 'options.secret must be at least 32 bytes' });
});

test('HS256: token from ?token= or Authorization Bearer; claims become the identity', async () => {
  const auth = jwtAuthenticator({ secret, issuer: 'shop', audience: 'kefu' });
  const token = await hs({ sub: 'u1', tenant: 't1', role: 'agent', name: 'Bob' }, '1h', (j) => j.setIssuer('shop').setAudience('kefu'));
  const a = await auth(req(`/kefu?token=${token}`));
  assert.equal(a?.id, 'u1');
  assert.equal(a?.tenant, 't1');
  assert.equal(a?.role, 'agent');
  assert.equal(a?.name, 'Bob');
  assert.ok((a?.expiresAt ?? 0) > Date.now());
  const b = await auth(req('/kefu', { authorization: `Bearer ${token}` }));
  assert.equal(b?.id, 'u1');
});

test('HS256: missing, expired, wrong issuer/audience, bad signature or claims are KEFU_ERR_UNAUTHORIZED', async () => {
  const auth = jwtAuthenticator({ secret, issuer: 'shop', audience: 'kefu', clockTolerance: 0 });
  const good = (j: SignJWT) => j.setIssuer('shop').setAudience('kefu');
  const cases = [
    req('/kefu'),
    req(`/kefu?token=${await hs({ sub: 'u1', tenant: 't1' }, Math.floor(Date.now() / 1000) - 10, good)}`),
    req(`/kefu?token=${await hs({ sub: 'u1', tenant: 't1' }, '1h', (j) => j.setIssuer('other').setAudience('kefu'))}`),
    req(`/kefu?token=${await hs({ sub: 'u1', tenant: 't1' }, '1h', (j) => j.setIssuer('shop').setAudience('else'))}`),
    req(`/kefu?token=${(await hs({ sub: 'u1', tenant: 't1' }, '1h', good)).slice(0, -3)}abc`),
    req(`/kefu?token=${await hs({ sub: 'u1' }, '1h', good)}`),
    req(`/kefu?token=${await hs({ sub: 'u1', tenant: 't1', role: 'admin' }, '1h', good)}`),
    req('/kefu?token=not.a.jwt'),
  ];
  for (const r of cases) await assert.rejects(Promise.resolve(auth(r)), { code: 'KEFU_ERR_UNAUTHORIZED' }, r.url);
  const visitor = await auth(req(`/kefu?token=${await hs({ sub: 'u1', tenant: 't1' }, '1h', good)}`));
  assert.equal(visitor?.role, 'visitor', 'role defaults to visitor');
});

test('JWKS: a local key set object and a remote JWKS URL (ES256)', async () => {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
  const token = await new SignJWT({ sub: 'u9', tenant: 't9', role: 'agent' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('1h').sign(privateKey);
  const local = jwtAuthenticator({ jwks: { keys: [jwk] } });
  assert.equal((await local(req(`/?token=${token}`)))?.id, 'u9');

  const srv = createServer((_q, res) => { res.setHeader('content-type', 'application/json'); res.end(JSON.stringify({ keys: [jwk] })); });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  try {
    const remote = jwtAuthenticator({ jwks: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/jwks.json` });
    assert.equal((await remote(req(`/?token=${token}`)))?.tenant, 't9');
    const { privateKey: otherKey } = await generateKeyPair('ES256');
    const forged = await new SignJWT({ sub: 'u9', tenant: 't9' }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setExpirationTime('1h').sign(otherKey);
    await assert.rejects(Promise.resolve(remote(req(`/?token=${forged}`))), { code: 'KEFU_ERR_UNAUTHORIZED' });
  } finally {
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

test('in a hub: a bad token is refused with 401; an expiring token closes the socket with 4003', async () => {
  const h = await startHub({ authenticate: jwtAuthenticator({ secret, clockTolerance: 0 }), heartbeatMs: 250, idleTimeoutMs: 0 });
  try {
    const status = await new Promise<number>((resolve) => {
      const ws = new WebSocket(`${h.url}?token=garbage`, ['kefu.v1']);
      ws.on('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); res.resume(); });
      ws.on('error', () => {});
    });
    assert.equal(status, 401);
    const token = await hs({ sub: 'u1', tenant: 't1' }, Math.floor(Date.now() / 1000) + 2);
    const c = new TestClient(new WebSocket(`${h.url}?token=${token}`, ['kefu.v1']));
    await c.next('welcome');
    const { code } = await c.waitClose(6000);
    assert.equal(code, 4003);
  } finally {
    await h.close();
  }
});
