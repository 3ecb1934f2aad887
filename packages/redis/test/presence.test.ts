/**
 * Agent presence across two hub nodes on a real redis-server: presence frames reach the tenant's
 * agents on every node (topic `a:<tenant>`); `hub.isOnline` stays node-local by design (the bus
 * holds no state; see docs/scaling.md, "Presence across nodes").
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { findBinary, startRedisServer, type RedisServerHandle } from '@kefu/core/testing';
import { RedisBus, RedisConversationStore } from '../src/index.js';
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
