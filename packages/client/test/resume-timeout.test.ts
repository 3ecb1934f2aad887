/**
 * An automatic resume that gets no answer within requestTimeoutMs is sent again; until then the
 * conversation's sends wait. A plain `ws` server on loopback ignores the first resume (a hub
 * that lost it) and answers the next, so the retry is tested exactly.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { WebSocketServer } from 'ws';
import { PROTOCOL } from '@kefu/protocol';
import { client, once } from './helpers/hub.js';
import type { KefuClient } from '../src/index.js';

const welcome = JSON.stringify({
  t: 'welcome', v: 1, session: 's', user: { id: 'u', role: 'visitor', tenant: 't1' }, heartbeatMs: 30_000,
  limits: { maxPayload: 65536, maxBody: 16000, ratePerSec: 50, rateBurst: 100, maxConversations: 100 },
});

const clients: KefuClient[] = [];
let wss: WebSocketServer | undefined;
after(async () => {
  for (const c of clients) c.close();
  await new Promise<void>((r) => (wss ? wss.close(() => r()) : r()));
});

test('a resume left unanswered past requestTimeoutMs is sent again; the waiting send then goes out', async () => {
  const resumes: string[] = [];
  const sends: string[] = [];
  wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(PROTOCOL) ? PROTOCOL : false) });
  wss.on('connection', (ws) => {
    ws.send(welcome);
    ws.on('message', (d) => {
      const f = JSON.parse(String(d)) as { t: string; ref?: string; conv?: string; cid?: string };
      if (f.t === 'resume') {
        resumes.push(f.ref!);
        if (resumes.length === 1) return; // lost
        ws.send(JSON.stringify({ t: 'resumed', ref: f.ref, conv: f.conv, after: 0, seq: 0, count: 0 }));
      } else if (f.t === 'send') {
        sends.push(f.cid!);
        ws.send(JSON.stringify({ t: 'ack', conv: f.conv, cid: f.cid, seq: 1, ts: Date.now() }));
      }
    });
  });
  await once(wss, 'listening');
  const addr = wss.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const c = client(`ws://127.0.0.1:${port}/kefu`, 'u', 'visitor', { requestTimeoutMs: 500 });
  clients.push(c);
  const errors: string[] = [];
  c.on('error', (e) => errors.push(e.code));
  await c.connect();
  const ack = await Promise.race([
    c.send('conv-y', 'hello'),
    new Promise<never>((_r, reject) => setTimeout(() => reject(new Error('send not acked within 10 s')), 10_000).unref()),
  ]);
  assert.equal(ack.seq, 1);
  // Normally two resumes; a machine slow enough to delay the second answer past 500 ms makes more.
  assert.ok(resumes.length >= 2, 'the first resume timed out and was sent again');
  assert.equal(new Set(resumes).size, resumes.length, 'each under a new ref');
  assert.equal(sends.length, 1, 'the send waited for the resume and went out once');
  assert.ok(errors.length >= 1 && errors.every((e) => e === 'KEFU_ERR_TIMEOUT'), 'the lost resume is reported');
});
