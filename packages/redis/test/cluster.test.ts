import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ServerFrame } from '@kefu/protocol';
import { findBinary, startRedisServer, type RedisServerHandle } from '@kefu/core/testing';
import { Peer, is } from './helpers/peer.js';

const bin = findBinary('redis-server');
const skip = 'skip' in bin ? bin.skip : false;
let redis: RedisServerHandle;
const nodes: ChildProcess[] = [];

// appendfsync everysec, the usual setting: a Redis process crash (not a host crash) loses no acked write.
before(async () => { if (!skip) redis = await startRedisServer({ appendfsync: 'everysec' }); });
after(async () => {
  for (const n of nodes) if (n.exitCode === null && n.signalCode === null) n.kill('SIGKILL');
  await redis?.stop();
});

async function startNode(id: string): Promise<{ url: string; proc: ChildProcess }> {
  const fixture = fileURLToPath(new URL('./fixtures/hub-node.ts', import.meta.url));
  const proc = spawn(process.execPath, ['--import', 'tsx', fixture], { env: { ...process.env, REDIS_URL: redis.url, NODE_ID: id }, stdio: ['ignore', 'pipe', 'inherit'] });
  nodes.push(proc);
  const port = await new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`hub node ${id} did not start`)), 20_000);
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += String(d);
      const m = /\{"port":(\d+)\}/.exec(buf);
      if (m) { clearTimeout(t); resolve(Number(m[1])); }
    });
    proc.once('exit', (code) => { clearTimeout(t); reject(new Error(`hub node ${id} exited with ${code}`)); });
  });
  return { url: `ws://127.0.0.1:${port}/kefu`, proc };
}


test('three hub nodes on one Redis: cross-node delivery both ways, SIGKILL of the visitor\'s node, resume on a third node with no gap and no duplicate', { skip, timeout: 120_000 }, async () => {
  const [a, b, c] = await Promise.all([startNode('A'), startNode('B'), startNode('C')]);
  const visitor = new Peer(a.url, 't1:v1:visitor');
  const agent = new Peer(b.url, 't1:a1:agent');
  await visitor.until(is('welcome'), 'visitor welcome');
  await agent.until(is('welcome'), 'agent welcome');
  visitor.send({ t: 'open', ref: 'o1' });
  const { conv } = await visitor.until(is('joined', (f) => f.ref === 'o1'), 'joined');
  agent.send({ t: 'join', ref: 'j1', conv });
  await agent.until(is('joined', (f) => f.ref === 'j1'), 'agent joined');

  // Both ways across nodes.
  for (let i = 1; i <= 20; i++) visitor.send({ t: 'send', conv, cid: `v${i}`, body: `visitor ${i}` });
  await visitor.until(is('ack', (f) => f.cid === 'v20'), 'ack v20');
  await agent.until(is('msg', (f) => f.cid === 'v20'), 'agent receives v20 on node B');
  agent.send({ t: 'send', conv, cid: 'a1', body: 'agent reply' });
  await visitor.until(is('msg', (f) => f.cid === 'a1'), 'visitor receives agent reply on node A');

  // Node A dies mid-conversation; the agent keeps writing meanwhile.
  const lastSeenByVisitor = Math.max(...visitor.msgs(conv));
  a.proc.kill('SIGKILL');
  await new Promise((r) => a.proc.once('exit', r));
  for (let i = 2; i <= 11; i++) agent.send({ t: 'send', conv, cid: `a${i}`, body: `agent ${i}` });
  const lastAck = await agent.until(is('ack', (f) => f.cid === 'a11'), 'ack a11');

  // The visitor reconnects to node C and resumes from what it saw.
  const again = new Peer(c.url, 't1:v1:visitor');
  await again.until(is('welcome'), 'welcome on C');
  again.send({ t: 'resume', ref: 'r1', conv, after: lastSeenByVisitor });
  const resumed = await again.until(is('resumed', (f) => f.ref === 'r1'), 'resumed');
  const replayed = again.msgs(conv);
  const expected = Array.from({ length: lastAck.seq - lastSeenByVisitor }, (_, i) => lastSeenByVisitor + 1 + i);
  assert.deepEqual(replayed, expected, 'replay has every missed seq once, in order');
  assert.equal(resumed.seq, lastAck.seq);

  // Live traffic continues on the new node, both ways, exactly once.
  again.send({ t: 'send', conv, cid: 'v21', body: 'back' });
  await agent.until(is('msg', (f) => f.cid === 'v21'), 'agent receives v21 from node C');
  agent.send({ t: 'send', conv, cid: 'a12', body: 'welcome back' });
  await again.until(is('msg', (f) => f.cid === 'a12'), 'visitor receives a12 on node C');
  const all = [...visitor.msgs(conv), ...again.msgs(conv)];
  const seen = new Set(again.msgs(conv));
  assert.equal(seen.size, again.msgs(conv).length, 'no duplicate on node C');
  assert.ok(all.length > 0);
  // A retried send from before the crash is stored once: same seq, dup flag.
  again.send({ t: 'send', conv, cid: 'v20', body: 'visitor 20' });
  const dup = await again.until(is('ack', (f) => f.cid === 'v20'), 'dup ack');
  assert.equal(dup.dup, true);
  for (const p of [visitor, agent, again]) p.ws.terminate();
  for (const n of [b, c]) n.proc.kill('SIGKILL');
});

test('Redis restarted (appendonly) while traffic flows: nodes reconnect and every acked message is still there', { skip, timeout: 120_000 }, async () => {
  const [a, b] = await Promise.all([startNode('A2'), startNode('B2')]);
  const visitor = new Peer(a.url, 't1:v2:visitor');
  const agent = new Peer(b.url, 't1:a2:agent');
  await visitor.until(is('welcome'), 'welcome');
  await agent.until(is('welcome'), 'welcome');
  visitor.send({ t: 'open', ref: 'o' });
  const { conv } = await visitor.until(is('joined'), 'joined');
  agent.send({ t: 'join', ref: 'j', conv });
  await agent.until(is('joined'), 'agent joined');

  const acked = new Map<string, number>();
  let i = 0;
  const sendSome = async (n: number) => {
    for (let k = 0; k < n; k++) { i++; visitor.send({ t: 'send', conv, cid: `m${i}`, body: `m${i}` }); }
  };
  await sendSome(30);
  await visitor.until(is('ack', (f) => f.cid === 'm30'), 'ack m30');
  await redis.kill();
  await sendSome(10); // these fail with an error frame or wait; none may be acked and lost
  await new Promise((r) => setTimeout(r, 300));
  await redis.restart();
  // Retry everything not acked yet, until all are acked (the client's outbox does this).
  const deadline = Date.now() + 30_000;
  for (;;) {
    for (const f of visitor.frames) if (f.t === 'ack') acked.set(f.cid, f.seq);
    const missing = Array.from({ length: i }, (_, k) => `m${k + 1}`).filter((cid) => !acked.has(cid));
    if (missing.length === 0) break;
    if (Date.now() > deadline) throw new Error(`never acked: ${missing.join(',')}`);
    for (const cid of missing) visitor.send({ t: 'send', conv, cid, body: cid });
    await new Promise((r) => setTimeout(r, 300));
  }
  // Every acked message is in the store exactly once: a fresh resume from 0 replays them all.
  const reader = new Peer(b.url, 't1:a2:agent');
  await reader.until(is('welcome'), 'welcome');
  reader.send({ t: 'resume', ref: 'r', conv, after: 0 });
  const done = await reader.until(is('resumed'), 'resumed', 20_000);
  const replay = reader.frames.filter((f): f is Extract<ServerFrame, { t: 'msg' }> => f.t === 'msg' && f.conv === conv);
  assert.equal(done.count, replay.length);
  assert.deepEqual(replay.map((m) => m.seq), Array.from({ length: replay.length }, (_, k) => k + 1));
  const cids = replay.map((m) => m.cid);
  assert.equal(new Set(cids).size, cids.length, 'each cid stored once');
  for (const [cid, seq] of acked) assert.equal(replay[seq - 1]?.cid, cid, `acked ${cid} at seq ${seq} is stored there`);
  for (const p of [visitor, agent, reader]) p.ws.terminate();
  for (const n of [a, b]) n.proc.kill('SIGKILL');
});
