/**
 * The hub's rate limit seen from the client, on real sockets: a refused frame is not decoded,
 * yet its error names its `ref` / `cid` / `conv`, so that a command rejects at once with
 * KEFU_ERR_RATE_LIMITED instead of timing out, sends are written again and stored once, and
 * resumes refused after a reconnect are tried again until every conversation is back.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { LevelConversationStore } from '@kefu/core';
import { PROTOCOL, type ErrorFrame, type ServerFrame } from '@kefu/protocol';
import { client, startHub, until, type TestHub } from './helpers/hub.js';
import { token } from './helpers/token.js';
import { KefuError, type KefuClient } from '../src/index.js';

const clients: KefuClient[] = [];
const hubs: TestHub[] = [];
const dirs: string[] = [];
after(async () => {
  for (const c of clients) c.close();
  for (const h of hubs) await h.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A bucket that refills too slowly to matter within a test: every frame past the burst is refused. */
const noRefill = (burst: number): { perSec: number; burst: number; strikes: number } => ({ perSec: 0.001, burst, strikes: 100 });

test('a refused frame is answered with an error naming its top-level ref, cid and conv', async () => {
  const h = await startHub({ rateLimit: noRefill(1) });
  hubs.push(h);
  const ws = new WebSocket(`${h.url}?token=${token('raw1', 'visitor')}`, PROTOCOL);
  const frames: ServerFrame[] = [];
  ws.on('message', (d) => frames.push(JSON.parse(String(d)) as ServerFrame));
  try {
    await until(() => frames.some((f) => f.t === 'welcome'), 10_000, 'welcome');
    ws.send('{"t":"ping","ref":"p0"}'); // spends the only token
    await until(() => frames.some((f) => f.t === 'pong'), 10_000, 'pong');
    const refused = [
      '{"t":"cmd","ref":"r1","name":"desk.accept","args":{"ref":"evil","cid":"evil"}}',
      '{"t":"send","conv":"c1","cid":"k1","body":"\\"ref\\":\\"fake\\""}',
      '{"t":"typing","conv":"c1","on":true}',
      '{"t":"cmd","args":{"x":1},"ref":"nested-first","name":"n"}',
      '{"t":"cmd","ref":"has space","name":"n"}',
    ];
    for (const s of refused) ws.send(s);
    ws.send(Buffer.from('{"t":"ping","ref":"bin"}'), { binary: true });
    await until(() => frames.filter((f) => f.t === 'error').length === 6, 10_000, 'six error frames');
    const errors = frames.filter((f): f is ErrorFrame => f.t === 'error');
    assert.ok(errors.every((e) => e.code === 'KEFU_ERR_RATE_LIMITED'));
    assert.deepEqual(errors.map(({ ref, cid, conv }) => ({ ref, cid, conv })), [
      { ref: 'r1', cid: undefined, conv: undefined }, // ids inside args are not the frame's
      { ref: undefined, cid: 'k1', conv: 'c1' }, // the body's escaped quotes are not keys
      { ref: undefined, cid: undefined, conv: 'c1' },
      { ref: undefined, cid: undefined, conv: undefined }, // past a nested object: not named
      { ref: undefined, cid: undefined, conv: undefined }, // not a valid id
      { ref: undefined, cid: undefined, conv: undefined }, // binary frames are not read
    ]);
  } finally {
    ws.close();
  }
});

test('a rate-limited request rejects at once with KEFU_ERR_RATE_LIMITED, not after its timeout', async () => {
  const h = await startHub({ rateLimit: noRefill(2) });
  hubs.push(h);
  // A timeout far beyond the test's own bound: only the hub's answer can settle these in time.
  const v = client(h.url, 'v1', 'visitor', { requestTimeoutMs: 600_000 });
  clients.push(v);
  await v.open(); // token 1
  await v.ping(); // token 2
  const bounded = <T>(p: Promise<T>): Promise<T> => Promise.race([
    p, new Promise<T>((_r, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref()),
  ]);
  await assert.rejects(bounded(v.ping()), (e: unknown) => e instanceof KefuError && e.code === 'KEFU_ERR_RATE_LIMITED');
  await assert.rejects(bounded(v.command('desk.rate', { stars: 5 })), (e: unknown) => e instanceof KefuError && e.code === 'KEFU_ERR_RATE_LIMITED');
  assert.equal(v.state, 'open', 'the connection stays up');
  assert.equal(h.hub.metrics.counts.rateLimited, 2);
});

test('resumes refused after a reconnect are tried again until every conversation is back', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-client-rate-'));
  dirs.push(dir);
  const first = await startHub({ store: new LevelConversationStore({ location: dir }), rateLimit: { perSec: 1000, burst: 1000 } });
  const port = first.port;
  const v = client(first.url, 'v2', 'visitor');
  clients.push(v);
  const convs: string[] = [];
  for (let i = 0; i < 6; i++) convs.push((await v.open()).conv);
  await first.close();
  await until(() => v.state !== 'open', 10_000, 'visitor notices the restart');

  // Six resumes at once against a burst of 3: some are refused and must be sent again.
  const errors: string[] = [];
  v.on('error', (e) => errors.push(e.code));
  const resumed = new Set<string>();
  v.on('resumed', (f) => resumed.add(f.conv));
  const second = await startHub({ store: new LevelConversationStore({ location: dir }), rateLimit: { perSec: 6, burst: 3, strikes: 1000 } }, port);
  hubs.push(second);
  await until(() => resumed.size === convs.length, 30_000, 'every conversation resumed');
  assert.ok(errors.includes('KEFU_ERR_RATE_LIMITED'), 'some resumes were refused on the way');
  const acks = await Promise.all(convs.map((c) => v.send(c, `back in ${c}`)));
  assert.deepEqual(acks.map((a) => a.seq), convs.map(() => 1), 'each conversation takes sends again');
});
