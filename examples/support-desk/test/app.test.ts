/**
 * The demo server's HTTP surface, against the real thing on a free port with a temp data dir:
 * health, Prometheus metrics, the demo-only token endpoint (and its input checks), static
 * routes, 404s, and that its tokens open a hub connection.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { KefuClient, type KefuClientOptions } from '@kefu/client';
import { startSupportDesk, type SupportDesk } from '../src/app.js';
import { DemoTokens } from '../src/demo-auth.js';

let desk: SupportDesk;
let dir: string;
before(async () => {
  await import('../src/build-assets.js');
  dir = await mkdtemp(join(tmpdir(), 'kefu-demo-app-'));
  desk = await startSupportDesk({ port: 0, dataDir: dir });
});
after(async () => {
  await desk.close();
  await rm(dir, { recursive: true, force: true });
});

const post = (path: string, body: string): Promise<Response> =>
  fetch(`${desk.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });

test('/health and /metrics (Prometheus text with the hub metrics)', async () => {
  const h = await fetch(`${desk.url}/health`);
  assert.equal(h.status, 200);
  const j = (await h.json()) as { status: string; connections: number };
  assert.equal(j.status, 'ok');
  assert.equal(typeof j.connections, 'number');
  const m = await fetch(`${desk.url}/metrics`);
  assert.equal(m.status, 200);
  assert.match(m.headers.get('content-type') ?? '', /text\/plain/);
  const text = await m.text();
  assert.match(text, /^# TYPE kefu_hub_connections gauge$/m);
  assert.match(text, /^kefu_demo_process_cpu_user_seconds_total /m);
  assert.match(text, /^kefu_demo_desk_agents_online 0$/m);
  assert.match(text, /^kefu_demo_refund_queue_items\{state="ready"\} 0$/m);
});

test('pages and bundles are served; anything else is 404', async () => {
  for (const [path, type] of [['/', 'text/html'], ['/agent', 'text/html'], ['/kefu-widget.js', 'text/javascript'], ['/agent-console.js', 'text/javascript'], ['/agent.css', 'text/css']]) {
    const r = await fetch(`${desk.url}${path!}`);
    assert.equal(r.status, 200, path);
    assert.match(r.headers.get('content-type') ?? '', new RegExp(type!));
    await r.arrayBuffer();
  }
  const etag = (await fetch(`${desk.url}/kefu-widget.js`)).headers.get('etag');
  assert.equal((await fetch(`${desk.url}/kefu-widget.js`, { headers: { 'if-none-match': etag ?? '' } })).status, 304);
  for (const p of ['/nope', '/../package.json', '/dist/app.js']) assert.equal((await fetch(`${desk.url}${p}`)).status, 404, p);
});

test('demo token endpoint: labelled demo-only, validates role and agent id, bounds the body', async () => {
  const r = await post('/demo/token', JSON.stringify({ role: 'agent', id: 'alice' }));
  assert.equal(r.status, 200);
  assert.equal(r.headers.get('x-kefu-demo-only'), 'true');
  const j = (await r.json()) as { token: string; user: { id: string; role: string }; demoOnly: boolean };
  assert.equal(j.demoOnly, true);
  assert.deepEqual([j.user.id, j.user.role], ['alice', 'agent']);
  const v = (await (await post('/demo/token', '{}')).json()) as { user: { id: string; role: string } };
  assert.equal(v.user.role, 'visitor');
  assert.match(v.user.id, /^v-[0-9a-f]{12}$/);
  const again = (await (await post('/demo/token', JSON.stringify({ role: 'visitor', id: v.user.id }))).json()) as { user: { id: string } };
  assert.equal(again.user.id, v.user.id, 'a returning visitor keeps their id');
  const bad = await post('/demo/token', JSON.stringify({ role: 'agent', id: 'mallory' }));
  assert.equal(bad.status, 400);
  assert.match(((await bad.json()) as { error: string }).error, /unknown demo agent "mallory"/);
  assert.equal((await post('/demo/token', JSON.stringify({ role: 'admin' }))).status, 400);
  assert.equal((await post('/demo/token', '{not json')).status, 400);
  assert.equal((await post('/demo/token', JSON.stringify({ pad: 'x'.repeat(5000) }))).status, 400, 'body over 4096 bytes');
});

test('a demo token opens a hub connection; a forged one is refused', async () => {
  const { token } = (await (await post('/demo/token', JSON.stringify({ role: 'visitor' }))).json()) as { token: string };
  const url = desk.url.replace('http', 'ws') + '/kefu';
  const c = new KefuClient({ url, token, WebSocket: WebSocket as unknown as KefuClientOptions['WebSocket'] });
  const w = await c.connect();
  assert.equal(w.user.tenant, 'demo');
  c.close();
  const forged = new DemoTokens().sign({ id: 'v-abcdef', role: 'visitor', name: 'X', tenant: 'demo' }); // another secret
  const f = new KefuClient({ url, token: forged, WebSocket: WebSocket as unknown as KefuClientOptions['WebSocket'], reconnect: { maxAttempts: 1, minDelayMs: 1, maxDelayMs: 1 } });
  await assert.rejects(f.connect());
  f.close();
});
