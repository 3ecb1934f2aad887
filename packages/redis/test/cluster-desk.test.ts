/**
 * Desks across nodes (clusterDesk) on a real redis-server, real hubs on loopback and real
 * WebSocket clients: one active desk elected with a renewed lock, every node relaying its hub's
 * events and desk commands to it, failover to another node's desk (close, and SIGKILL of a child
 * process) with nothing assigned twice and no agent over capacity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { DeskOptions, Desk } from '@kefu/core';
import { ClusterDesk, RedisAgentLedger, RedisBus, RedisConversationStore } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';
import { startHubNode, type HubNode } from './helpers/peer.js';
import { DeskClient, closeAll, until } from './helpers/desk-client.js';

const redis = redisServerForFile({ appendonly: false });
const { skip } = redis;
// Long enough that a leader starved of CPU on a loaded CI machine keeps its lease; short enough for quick failovers.
const LOCK_TTL = 2_000;
let seq = 0;

interface DeskNode { id: string; node: HubNode; url: string; ledger: RedisAgentLedger; cd: ClusterDesk; errors: Error[]; close(): Promise<void> }

async function startDeskNode(id: string, prefix: string, desk: Omit<DeskOptions, 'hub' | 'store'> = {}): Promise<DeskNode> {
  const node = await startHubNode({ bus: new RedisBus(redis.url, { nodeId: id, prefix }), store: new RedisConversationStore(redis.url, { prefix }), rateLimit: { perSec: 1000, burst: 1000 } });
  const ledger = new RedisAgentLedger(redis.url, { prefix, nodeId: id, presenceTtlMs: 1_500 });
  const cd = new ClusterDesk(redis.url, { hub: node.hub, ledger, prefix, lockTtlMs: LOCK_TTL, commandTimeoutMs: 6_000, desk: { positionUpdateMs: 0, ...desk } });
  const errors: Error[] = [];
  cd.on('error', (e) => errors.push(e));
  node.hub.on('error', () => {});
  await cd.start();
  let closed = false;
  return {
    id, node, url: node.url, ledger, cd, errors,
    async close() {
      if (closed) return;
      closed = true;
      await cd.close();
      await ledger.close();
      await node.close();
    },
  };
}

const leaderOf = (nodes: DeskNode[]): DeskNode | undefined => nodes.find((n) => n.cd.isLeader && n.cd.desk !== undefined);

async function waitLeader(nodes: DeskNode[], timeoutMs = 10_000): Promise<DeskNode> {
  await until(() => leaderOf(nodes) !== undefined, 'a leader', timeoutMs);
  return leaderOf(nodes)!;
}

/** Accepts every offer the agent gets until `stop()`; records each accept's outcome. */
function acceptLoop(agent: DeskClient, id: string, log: Array<{ agent: string; conv: string; ok: boolean; code?: string }>): { stop(): Promise<void> } {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      const offer = await agent.event<{ offerId: string; conv: string }>('desk.offer', () => true, 200).catch(() => undefined);
      if (!offer || stopped) continue;
      const r = await agent.cmd('desk.accept', undefined, { offerId: offer.offerId }).catch(() => undefined);
      if (r) log.push(r.ok ? { agent: id, conv: offer.conv, ok: true } : { agent: id, conv: offer.conv, ok: false, code: r.code });
    }
  })();
  return { async stop() { stopped = true; await done; } };
}

test('visitor on node B asks for a human, the agent on node C is offered and accepts; the leader is node A; messages flow both ways', { skip, timeout: 60_000 }, async () => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const bot: DeskOptions = {
    classifier: { classify: async () => ({ intent: 'greet', confidence: 0.99 }) },
    bot: { greet: 'Hello from the bot' },
  };
  const a = await startDeskNode('A', prefix, bot);
  const nodes = [a];
  let v: DeskClient | undefined, ag: DeskClient | undefined;
  try {
    assert.equal(await waitLeader(nodes), a, 'the first node leads');
    nodes.push(await startDeskNode('B', prefix, bot), await startDeskNode('C', prefix, bot));
    const [, b, c] = nodes as [DeskNode, DeskNode, DeskNode];
    assert.equal(b.cd.isLeader || c.cd.isLeader, false, 'one active desk');

    ag = await DeskClient.connect(c.url, 't1:ag1:agent');
    await until(() => a.cd.desk!.agentStatus({ tenant: 't1', id: 'ag1', role: 'agent' }).status === 'online', 'the leader sees the agent on node C online');

    v = await DeskClient.connect(b.url, 't1:v1:visitor');
    const conv = await v.open();
    v.say(conv, 'hi');
    await v.wait((f) => f.t === 'msg' && f.body === 'Hello from the bot', 'the bot answer (posted by the leader, delivered on node B)');
    assert.equal(a.cd.desk!.conversation(conv)?.state, 'bot');

    const human = await v.cmd('desk.human', conv);
    assert.deepEqual(human, { ok: true, data: { state: 'waiting', position: 1 } });
    const offer = await ag.event<{ offerId: string; conv: string; visitor: { id: string } }>('desk.offer');
    assert.equal(offer.conv, conv);
    assert.equal(offer.visitor.id, 'v1');

    const acc = await ag.cmd('desk.accept', undefined, { offerId: offer.offerId });
    assert.deepEqual(acc, { ok: true, data: { conv, state: 'assigned' } });
    await v.event('desk.assigned');
    assert.equal(a.cd.desk!.conversation(conv)?.agentId, 'ag1');

    v.say(conv, 'my parcel is late');
    await ag.wait((f) => f.t === 'msg' && f.body === 'my parcel is late', 'visitor -> agent across nodes');
    ag.say(conv, 'let me check');
    await v.wait((f) => f.t === 'msg' && f.body === 'let me check', 'agent -> visitor across nodes').catch((e: Error) => { throw new Error(`${e.message}; agent has ${JSON.stringify(ag!.frames)}`); });

    // Coded errors cross nodes too: a second accept, a bad argument, a visitor doing an agent's job.
    assert.deepEqual(await ag.cmd('desk.accept', undefined, { offerId: offer.offerId }).then((r) => (r.ok ? 'ok' : r.code)), 'KEFU_ERR_DESK_OFFER_EXPIRED');
    assert.deepEqual(await ag.cmd('desk.accept', undefined, { offerId: 7 }).then((r) => (r.ok ? 'ok' : r.code)), 'KEFU_ERR_INVALID_FRAME');
    assert.deepEqual(await v.cmd('desk.status').then((r) => (r.ok ? 'ok' : r.code)), 'KEFU_ERR_FORBIDDEN');
    const status = await ag.cmd('desk.status');
    assert.ok(status.ok);
    assert.deepEqual(status.data.conversations, [conv]);
  } finally {
    await closeAll(v, ag);
    for (const n of nodes.reverse()) await n.close();
  }
});

test('many visitors across three nodes: nothing assigned twice, no agent over capacity; the leader closes and another node\'s desk takes over and keeps routing', { skip, timeout: 90_000 }, async (t) => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const opts = { agentProfile: () => ({ capacity: 2 }) };
  const nodes: DeskNode[] = [await startDeskNode('L', prefix, opts)];
  const clients: DeskClient[] = [];
  const log: Array<{ agent: string; conv: string; ok: boolean; code?: string }> = [];
  const loops: Array<{ stop(): Promise<void> }> = [];
  try {
    const first = await waitLeader(nodes);
    nodes.push(await startDeskNode('M', prefix, opts), await startDeskNode('N', prefix, opts));
    const [, m, n] = nodes as [DeskNode, DeskNode, DeskNode];
    // Agents on the two nodes that will survive; visitors on all three... except the leader,
    // whose sockets would go with it (that is the hub's failover, tested elsewhere).
    const agents = ['ag1', 'ag2', 'ag3'];
    for (const [i, id] of agents.entries()) {
      const c = await DeskClient.connect((i % 2 === 0 ? m : n).url, `t1:${id}:agent`);
      clients.push(c);
      loops.push(acceptLoop(c, id, log));
    }
    await until(() => agents.every((id) => first.cd.desk!.agentStatus({ tenant: 't1', id, role: 'agent' }).status === 'online'), 'all agents online at the leader');
    const convs: string[] = [];
    for (let i = 0; i < 10; i++) {
      const v = await DeskClient.connect((i % 2 === 0 ? m : n).url, `t1:v${i}:visitor`);
      clients.push(v);
      convs.push(await v.open());
    }
    const accepted = () => log.filter((r) => r.ok);
    await until(() => accepted().length === 6, 'six assignments (3 agents x capacity 2)', 20_000);
    await new Promise((r) => setTimeout(r, 300));
    const check = (desk: Desk, what: string) => {
      const ok = accepted();
      assert.equal(new Set(ok.map((r) => r.conv)).size, ok.length, `${what}: no conversation accepted twice`);
      for (const id of agents) {
        const st = desk.agentStatus({ tenant: 't1', id, role: 'agent' });
        assert.ok(st.active <= 2, `${what}: ${id} holds ${st.active} > capacity 2`);
      }
      const assigned = convs.filter((c) => desk.conversation(c)?.state === 'assigned');
      for (const c of assigned) assert.equal(ok.filter((r) => r.conv === c).at(-1)?.agent, desk.conversation(c)?.agentId, `${what}: ${c} held by whoever accepted it last`);
      return assigned;
    };
    assert.equal(check(first.cd.desk!, 'before failover').length, 6);
    assert.equal(accepted().length, 6, 'nothing beyond capacity was accepted');
    assert.equal(first.cd.desk!.stats.waiting, 4);

    // The active desk's node stops: the lock is released, a standby takes over.
    const t0 = Date.now();
    await first.close();
    const second = await waitLeader([m, n], LOCK_TTL * 3);
    const tookMs = Date.now() - t0;
    t.diagnostic(`takeover after the leader closed: ${tookMs} ms (lockTtlMs ${LOCK_TTL})`);
    assert.ok(tookMs <= LOCK_TTL * 3, `takeover after ${tookMs} ms`);
    const desk2 = second.cd.desk!;
    assert.equal(check(desk2, 'after takeover').length, 6, 'the new desk restored the six assignments');
    await until(() => agents.every((id) => desk2.agentStatus({ tenant: 't1', id, role: 'agent' }).status === 'online'), 'agents re-announced to the new leader');
    assert.equal(desk2.stats.waiting, 4, 'the waiting line was restored from Redis');

    // It keeps routing: an agent closes a chat; the freed slot goes to the head of the line.
    const done = accepted()[0]!;
    const agentClient = clients[agents.indexOf(done.agent)]!;
    assert.deepEqual(await agentClient.cmd('desk.close', done.conv).then((r) => r.ok), true);
    await until(() => accepted().length === 7, 'the freed slot is offered and accepted', 15_000);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(accepted().length, 7);
    assert.equal(check(desk2, 'after routing on the new leader').length, 6);
    assert.equal(desk2.stats.waiting, 3);
  } finally {
    for (const l of loops) await l.stop();
    await closeAll(...clients);
    for (const nd of nodes.reverse()) await nd.close();
  }
});

test('SIGKILL of the leader\'s process: a standby node\'s desk takes over within about the lock TTL and assigns what waits, once', { skip, timeout: 60_000 }, async (t) => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const fixture = fileURLToPath(new URL('./fixtures/desk-node.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', fixture], {
    env: { ...process.env, REDIS_URL: redis.url, PREFIX: prefix, NODE_ID: 'doomed', LOCK_TTL_MS: String(LOCK_TTL) },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const seen: Array<Record<string, unknown>> = [];
  lines.on('line', (l) => { try { seen.push(JSON.parse(l) as Record<string, unknown>); } catch { /* not ours */ } });
  let standby: DeskNode | undefined;
  const clients: DeskClient[] = [];
  const log: Array<{ agent: string; conv: string; ok: boolean; code?: string }> = [];
  let loop: { stop(): Promise<void> } | undefined;
  try {
    await until(() => seen.some((s) => s.leader === true) && seen.some((s) => typeof s.port === 'number'), 'the child leads', 20_000);
    standby = await startDeskNode('survivor', prefix, { agentProfile: () => ({ capacity: 2 }) });
    assert.equal(standby.cd.isLeader, false);
    const agent = await DeskClient.connect(standby.url, 't1:ag1:agent');
    clients.push(agent);
    loop = acceptLoop(agent, 'ag1', log);
    const convs: string[] = [];
    for (let i = 0; i < 3; i++) {
      const v = await DeskClient.connect(standby.url, `t1:v${i}:visitor`);
      clients.push(v);
      convs.push(await v.open());
    }
    await until(() => log.filter((r) => r.ok).length === 2, 'the child\'s desk assigns two chats to ag1 (capacity 2)', 15_000);

    const t0 = Date.now();
    child.kill('SIGKILL');
    await once(child, 'exit');
    await waitLeader([standby], LOCK_TTL * 4);
    const tookMs = Date.now() - t0;
    t.diagnostic(`takeover after SIGKILL of the leader: ${tookMs} ms (lockTtlMs ${LOCK_TTL})`);
    assert.ok(tookMs <= LOCK_TTL * 4, `takeover after ${tookMs} ms`);
    const desk = standby.cd.desk!;
    assert.deepEqual(convs.map((c) => desk.conversation(c)?.state).sort(), ['assigned', 'assigned', 'waiting']);
    await until(() => desk.agentStatus({ tenant: 't1', id: 'ag1', role: 'agent' }).status === 'online', 'ag1 online at the new leader');
    const first = log.find((r) => r.ok)!;
    assert.equal((await agent.cmd('desk.close', first.conv)).ok, true);
    await until(() => log.filter((r) => r.ok).length === 3, 'the third chat is assigned by the new leader', 15_000);
    const ok = log.filter((r) => r.ok);
    assert.equal(new Set(ok.map((r) => r.conv)).size, 3, 'each chat accepted once');
    assert.ok(desk.agentStatus({ tenant: 't1', id: 'ag1', role: 'agent' }).active <= 2);
  } finally {
    await loop?.stop();
    await closeAll(...clients);
    if (child.exitCode === null) child.kill('SIGKILL');
    await standby?.close();
  }
});

test('options are checked with exact messages; commands fail with KEFU_ERR_DESK_UNAVAILABLE while no desk is active', { skip, timeout: 30_000 }, async () => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const node = await startHubNode({ bus: new RedisBus(redis.url, { nodeId: 'solo', prefix }), store: new RedisConversationStore(redis.url, { prefix }) });
  const ledger = new RedisAgentLedger(redis.url, { prefix, nodeId: 'solo' });
  try {
    const base = { hub: node.hub, ledger };
    assert.throws(() => new ClusterDesk(redis.url, { ...base, hub: {} as never }), { name: 'TypeError', message: 'options.hub must be a Hub' });
    assert.throws(() => new ClusterDesk(redis.url, { ...base, ledger: {} as never }), { name: 'TypeError', message: 'options.ledger must be a RedisAgentLedger' });
    assert.throws(() => new ClusterDesk(redis.url, { ...base, desk: { store: {} } as never }), { name: 'TypeError', message: 'options.desk must not set hub or store: clusterDesk gives the desk its relay hub and a RedisDeskStore' });
    assert.throws(() => new ClusterDesk(redis.url, { ...base, lockTtlMs: 100 }), { name: 'RangeError', message: 'options.lockTtlMs must be an integer >= 300' });
    assert.throws(() => new ClusterDesk(redis.url, { ...base, commandTimeoutMs: 0 }), { name: 'RangeError', message: 'options.commandTimeoutMs must be an integer >= 1' });
    assert.throws(() => new ClusterDesk(redis.url, { ...base, maxBacklog: 10 }), { name: 'RangeError', message: 'options.maxBacklog must be an integer >= 100' });
    assert.throws(() => new ClusterDesk(redis.url, { ...base, maxPendingCommands: 0 }), { name: 'RangeError', message: 'options.maxPendingCommands must be an integer >= 1' });

    // Someone else holds the lock and never reads: this node's commands time out with a code.
    const { Redis } = await import('ioredis');
    const r = new Redis(redis.url);
    await r.set(`${prefix}desk:{default}:lock`, '1:elsewhere', 'PX', 30_000);
    r.disconnect();
    const cd = new ClusterDesk(redis.url, { ...base, prefix, commandTimeoutMs: 300 });
    await cd.start();
    const c = await DeskClient.connect(node.url, 't1:ag1:agent');
    try {
      assert.equal(cd.isLeader, false);
      const res = await c.cmd('desk.status');
      assert.deepEqual(res.ok ? 'ok' : res.code, 'KEFU_ERR_DESK_UNAVAILABLE');
    } finally {
      await c.close();
      await cd.close();
    }
  } finally {
    await ledger.close();
    await node.close();
  }
});

test('a leader whose lock is taken steps down at its next renewal; a command and a conversation that arrive while no desk leads are handled by the next leader; malformed relay entries are dropped', { skip, timeout: 60_000 }, async () => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const p = await startDeskNode('P', prefix);
  const nodes = [p];
  let v: DeskClient | undefined, ag: DeskClient | undefined;
  const { Redis } = await import('ioredis');
  const r = new Redis(redis.url);
  try {
    await waitLeader(nodes);
    nodes.push(await startDeskNode('Q', prefix));
    const q = nodes[1]!;
    const base = `${prefix}desk:{default}:`;
    // Garbage in the relay stream (a bug, or someone writing to the key): dropped, the desk goes on.
    await r.xadd(`${base}inbox`, '*', 'k', 'cmd', 'd', 'not json');
    await r.xadd(`${base}inbox`, '*', 'k', 'presence', 'd', '{}');
    await r.xadd(`${base}inbox`, '*', 'x', 'y');

    ag = await DeskClient.connect(q.url, 't1:ag1:agent');
    await until(() => p.cd.desk?.agentStatus({ tenant: 't1', id: 'ag1', role: 'agent' }).status === 'online', 'agent online at P');
    assert.ok(p.errors.length >= 1, 'the malformed presence entry was reported');

    const standby = new Promise<[string]>((res) => p.cd.once('standby', (why) => res([why])));
    await r.set(`${base}lock`, '999:thief', 'PX', 1_500);
    const [reason] = await standby;
    assert.match(String(reason), /another node holds the lock|lease/);
    assert.equal(p.cd.desk, undefined);
    const status = ag.cmd('desk.status'); // sent while no desk leads: waits in the stream

    // No desk reads now: the new conversation waits in the stream and the next leader routes it.
    v = await DeskClient.connect(q.url, 't1:v1:visitor');
    const conv = await v.open();
    const offer = await ag.event<{ offerId: string; conv: string }>('desk.offer', (d) => d.conv === conv, 15_000);
    const leader = await waitLeader(nodes);
    const st = await status;
    assert.equal(st.ok, true, 'the next leader answered the command sent in the gap');
    assert.deepEqual(await ag.cmd('desk.accept', undefined, { offerId: offer.offerId }), { ok: true, data: { conv, state: 'assigned' } });
    assert.equal(leader.cd.desk!.conversation(conv)?.agentId, 'ag1');
  } finally {
    r.disconnect();
    await closeAll(v, ag);
    for (const n of nodes.reverse()) await n.close();
  }
});

test('a node that dies holding an agent: the leader sees the agent offline once the ledger entry expires', { skip, timeout: 60_000 }, async () => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const leader = await startDeskNode('live', prefix);
  const fixture = fileURLToPath(new URL('./fixtures/desk-node.ts', import.meta.url));
  let child: ReturnType<typeof spawn> | undefined;
  let ag: DeskClient | undefined;
  try {
    await waitLeader([leader]);
    child = spawn(process.execPath, ['--import', 'tsx', fixture], {
      env: { ...process.env, REDIS_URL: redis.url, PREFIX: prefix, NODE_ID: 'mortal', LOCK_TTL_MS: String(LOCK_TTL) },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    let port = 0;
    lines.on('line', (l) => { try { const o = JSON.parse(l) as { port?: number }; if (o.port) port = o.port; } catch { /* not ours */ } });
    await until(() => port > 0, 'the child listens', 20_000);
    ag = await DeskClient.connect(`ws://127.0.0.1:${port}/kefu`, 't1:ag9:agent');
    const desk = leader.cd.desk!;
    const id = { tenant: 't1', id: 'ag9', role: 'agent' as const };
    await until(() => desk.agentStatus(id).status === 'online', 'the leader sees the child\'s agent');
    child.kill('SIGKILL');
    await once(child, 'exit');
    await until(() => desk.agentStatus(id).status === 'offline', 'the dead node\'s agent is offline at the leader', 15_000);
  } finally {
    await ag?.close().catch(() => undefined);
    if (child && child.exitCode === null) child.kill('SIGKILL');
    await leader.close();
  }
});

test('Redis unreachable: start rejects with KEFU_ERR_DESK_UNAVAILABLE', { skip, timeout: 30_000 }, async () => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const node = await startHubNode({ bus: new RedisBus(redis.url, { nodeId: 'u', prefix }), store: new RedisConversationStore(redis.url, { prefix }) });
  const ledger = new RedisAgentLedger(redis.url, { prefix, nodeId: 'u' });
  const cd = new ClusterDesk({ host: '127.0.0.1', port: 1, maxRetriesPerRequest: 0, retryStrategy: () => null }, { hub: node.hub, ledger, prefix });
  try {
    await assert.rejects(cd.start(), { code: 'KEFU_ERR_DESK_UNAVAILABLE' });
  } finally {
    await cd.close();
    await ledger.close();
    await node.close();
  }
});

test('a desk that cannot restore (corrupt state in Redis) reports it, gives the lock up and tries again a TTL later', { skip, timeout: 30_000 }, async () => {
  const prefix = `cd${++seq}x${Date.now()}:`;
  const { Redis } = await import('ioredis');
  const r = new Redis(redis.url);
  await r.hset(`${prefix}desk:{default}:active`, 't1\0broken', '{not json');
  const n = await startDeskNode('S', prefix);
  try {
    await until(() => n.errors.length > 0, 'the failed restore is reported');
    assert.equal((n.errors[0] as Error & { code?: string }).code, 'KEFU_ERR_STORE');
    assert.match(n.errors[0]!.message, /corrupt record/);
    assert.equal(n.cd.isLeader, false);
    assert.equal(await r.exists(`${prefix}desk:{default}:lock`), 0, 'the lock was given up');
    await r.hdel(`${prefix}desk:{default}:active`, 't1\0broken');
    await waitLeader([n], LOCK_TTL * 4);
  } finally {
    r.disconnect();
    await n.close();
  }
});
