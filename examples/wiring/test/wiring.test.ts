import { test } from 'node:test';
import assert from 'node:assert/strict';
import WebSocket from 'ws';
import { SignJWT } from 'jose';
import { startHttp, startExpress, startFastify, type Running } from '../src/index.js';

const secret = 'wiring-example-secret-of-32-bytes-or-more';

function token(sub: string, role: 'visitor' | 'agent'): Promise<string> {
  return new SignJWT({ sub, tenant: 'shop', role }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('10m').sign(new TextEncoder().encode(secret));
}

/** Connects, and collects frames by type. */
async function client(port: number, jwt: string): Promise<{ ws: WebSocket; next(t: string): Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/kefu?token=${jwt}`, ['kefu.v1']);
  const frames: Array<Record<string, unknown>> = [];
  const waiters: Array<{ t: string; r: (f: Record<string, unknown>) => void }> = [];
  ws.on('message', (d) => {
    const f = JSON.parse(String(d)) as Record<string, unknown>;
    const i = waiters.findIndex((w) => w.t === f.t);
    if (i !== -1) waiters.splice(i, 1)[0]!.r(f); else frames.push(f);
  });
  const next = (t: string): Promise<Record<string, unknown>> => {
    const i = frames.findIndex((f) => f.t === t);
    if (i !== -1) return Promise.resolve(frames.splice(i, 1)[0]!);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${t}`)), 5000);
      waiters.push({ t, r: (f) => { clearTimeout(timer); resolve(f); } });
    });
  };
  await next('welcome');
  return { ws, next };
}

async function exercise(run: Running): Promise<void> {
  const health = await fetch(`http://127.0.0.1:${run.port}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { ok: boolean }).ok, true);
  const refused = await new Promise<number>((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${run.port}/kefu?token=bad`, ['kefu.v1']);
    ws.on('unexpected-response', (_q, res) => { resolve(res.statusCode ?? 0); res.resume(); });
    ws.on('error', () => {});
  });
  assert.equal(refused, 401);
  const v = await client(run.port, await token('v1', 'visitor'));
  const a = await client(run.port, await token('a1', 'agent'));
  v.ws.send(JSON.stringify({ t: 'open', ref: 'r' }));
  const conv = (await v.next('joined')).conv as string;
  a.ws.send(JSON.stringify({ t: 'join', ref: 'j', conv }));
  await a.next('joined');
  v.ws.send(JSON.stringify({ t: 'send', conv, cid: 'c1', body: 'hello' }));
  assert.equal((await v.next('ack')).seq, 1);
  assert.equal((await a.next('msg')).body, 'hello');
  const closed = new Promise<number>((r) => v.ws.once('close', (code) => r(code)));
  await run.close();
  assert.equal(await closed, 1001);
}

test('plain node:http', async () => { await exercise(await startHttp(secret)); });
test('Express 5', async () => { await exercise(await startExpress(secret)); });
test('Fastify 5', async () => { await exercise(await startFastify(secret)); });
