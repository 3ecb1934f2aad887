/**
 * Agent presence across two hub nodes on a real redis-server: presence frames reach the tenant's
 * agents on every node (topic `a:<tenant>`); `hub.isOnline` stays node-local by design (the bus
 * holds no state; see docs/scaling.md, "Presence across nodes").
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { findBinary, startRedisServer, type RedisServerHandle } from '@kefu/core/testing';
import { RedisAgentLedger, RedisBus, RedisConversationStore, trackPresence } from '../src/index.js';
import { Peer, is, startHubNode, type HubNode } from './helpers/peer.js';

const bin = findBinary('redis-server');
const skip = 'skip' in bin ? bin.skip : false;
let redis: RedisServerHandle;

before(async () => { if (!skip) redis = await startRedisServer({ appendonly: false }); });
after(async () => { await redis?.stop(); });

function startNode(nodeId: string): Promise<HubNode> {
  return startHubNode({ bus: new RedisBus(redis.url, { nodeId }), store: new RedisConversationStore(redis.url) });
}

async function connected(url: string, as: string): Promise<Peer> {
  const p = new Peer(url, as);
  await p.until(is('welcome'), `${as} welcome`);
  return p;
}

test('agent presence crosses nodes to the tenant\'s agents only; an agent is not told about itself; isOnline is node-local', { skip, timeout: 30_000 }, async () => {
  const a = await startNode('PA');
  const b = await startNode('PB');
  const a1 = await connected(a.url, 't1:a1:agent');
  const other = await connected(a.url, 't2:x1:agent');
  const visitor = await connected(a.url, 't1:v1:visitor');
  let a2: Peer | undefined;
  let a1OnB: Peer | undefined;
  try {
    a2 = await connected(b.url, 't1:a2:agent');
    await a1.until(is('presence', (f) => f.user.id === 'a2' && f.status === 'online'), 'a2 online seen on node A');

    a2.send({ t: 'presence', status: 'away' });
    await a1.until(is('presence', (f) => f.user.id === 'a2' && f.status === 'away'), 'a2 away seen on node A');

    // a1 opens a second socket on B: a2 (on B) hears about it; a1's socket on A does not hear about itself.
    a1OnB = await connected(b.url, 't1:a1:agent');
    await a2.until(is('presence', (f) => f.user.id === 'a1' && f.status === 'online'), 'a1 online seen by a2');

    assert.equal(a.hub.isOnline('t1', 'a1'), true);
    assert.equal(b.hub.isOnline('t1', 'a1'), true);
    assert.equal(b.hub.isOnline('t1', 'a2'), true);
    assert.equal(a.hub.isOnline('t1', 'a2'), false, 'node-local: node A has no socket of a2');

    await a2.close();
    await a1.until(is('presence', (f) => f.user.id === 'a2' && f.status === 'offline'), 'a2 offline seen on node A');
    await new Promise((r) => setTimeout(r, 200));

    assert.deepEqual(a1.presence(), ['a2:online', 'a2:away', 'a2:offline'], 'never its own presence, from either node');
    assert.deepEqual(a1OnB.presence(), ['a2:offline'], 'joined after a2 came online (and away): the bus carries changes, not state');
    assert.deepEqual(other.presence(), [], 'another tenant hears nothing');
    assert.deepEqual(visitor.presence(), [], 'visitors hear no agent presence');
  } finally {
    await a1.close(); await other.close(); await visitor.close();
    await a2?.close(); await a1OnB?.close();
    await a.close(); await b.close();
  }
});

test('trackPresence: each node feeds its agents into the ledger, so any node sees who is online anywhere; the last socket closing withdraws it', { skip, timeout: 30_000 }, async () => {
  const a = await startNode('LA');
  const b = await startNode('LB');
  const prefix = `tp${Date.now()}:`;
  const ledgerA = new RedisAgentLedger(redis.url, { prefix, nodeId: 'LA' });
  const ledgerB = new RedisAgentLedger(redis.url, { prefix, nodeId: 'LB' });
  const stopA = trackPresence(a.hub, ledgerA);
  const stopB = trackPresence(b.hub, ledgerB);
  const until = async (cond: () => Promise<boolean>, what: string): Promise<void> => {
    const end = Date.now() + 5_000;
    while (!(await cond())) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  };
  let onA: Peer | undefined;
  let onB: Peer | undefined;
  try {
    onA = await connected(a.url, 't1:ag1:agent');
    await until(async () => ledgerB.isOnline('t1', 'ag1'), 'node B to see ag1 (connected to node A)');
    assert.equal(b.hub.isOnline('t1', 'ag1'), false, 'the hub\'s own view stays node-local');
    onB = await connected(b.url, 't1:ag1:agent');
    await until(async () => (await ledgerA.onlineAgents('t1')).length === 1, 'one agent, two nodes');
    onA.send({ t: 'presence', status: 'away' });
    await onA.close();
    await until(async () => !a.hub.isOnline('t1', 'ag1'), 'node A to drop its socket');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await ledgerA.isOnline('t1', 'ag1'), true, 'still connected on node B');
    await onB.close();
    await until(async () => !(await ledgerA.isOnline('t1', 'ag1')), 'ag1 offline everywhere');
    assert.deepEqual(await ledgerB.onlineAgents('t1'), []);
  } finally {
    stopA(); stopB();
    await onA?.close(); await onB?.close();
    await ledgerA.close(); await ledgerB.close();
    await a.close(); await b.close();
  }
});
