/**
 * RelayHub, the hub the active desk of a cluster sees: presence aggregated over nodes, a node's
 * chunked re-announcement (sync), expiry of a dead node's agents, and relayed commands answering
 * with coded errors. Driven directly (the relay stream is covered by cluster-desk.test.ts); its
 * actions go to a real Hub, unused here.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Hub, KefuError } from '@kefu/core';
import { RelayHub } from '../src/relay-hub.js';

function rig(): { relay: RelayHub; events: string[]; hub: Hub } {
  const hub = new Hub({ authenticate: () => null });
  const relay = new RelayHub(hub);
  const events: string[] = [];
  relay.on('presence', (p) => events.push(`${p.user.id}:${p.status}`));
  return { relay, events, hub };
}

const ag = (id: string) => ({ id, role: 'agent' as const });

test('presence is aggregated over nodes: online while some node has the agent online, away while all have them away, offline once none has them', async () => {
  const { relay, events, hub } = rig();
  try {
    relay.presence('n1', 't', ag('a1'), 'online');
    relay.presence('n2', 't', ag('a1'), 'online');
    assert.equal(relay.isOnline('t', 'a1'), true);
    relay.presence('n1', 't', ag('a1'), 'offline');
    assert.deepEqual(events, ['a1:online'], 'still online on n2: no event');
    relay.presence('n2', 't', ag('a1'), 'away');
    relay.presence('n2', 't', ag('a1'), 'offline');
    assert.deepEqual(events, ['a1:online', 'a1:away', 'a1:offline']);
    assert.equal(relay.isOnline('t', 'a1'), false);
    assert.equal(relay.isOnline('other', 'a1'), false, 'tenants apart');
  } finally {
    await hub.close();
  }
});

test('a chunked sync drops what the node no longer lists only after its last chunk; listed agents never flicker offline', async () => {
  const { relay, events, hub } = rig();
  try {
    relay.presence('n1', 't', ag('a1'), 'online');
    relay.presence('n1', 't', ag('gone'), 'online');
    relay.presence('n2', 't', ag('elsewhere'), 'online');
    events.length = 0;
    relay.sync('n1', true, false, [{ tenant: 't', user: ag('a2'), status: 'online' }]);
    relay.sync('n1', false, true, [{ tenant: 't', user: ag('a1'), status: 'online' }]);
    assert.deepEqual(events, ['a2:online', 'gone:offline'], 'a1 stayed online throughout; n2\'s agent untouched');
    assert.equal(relay.isOnline('t', 'elsewhere'), true);
    relay.sync('n2', true, true, []);
    assert.deepEqual(events.at(-1), 'elsewhere:offline', 'an empty sync withdraws every agent of the node');
  } finally {
    await hub.close();
  }
});

test('expire drops (agent, node) pairs the ledger no longer holds, after the grace', async () => {
  const { relay, events, hub } = rig();
  try {
    relay.presence('dead', 't', ag('a1'), 'online');
    relay.presence('live', 't', ag('a2'), 'online');
    relay.expire('t', new Set(['a2\0live']), 60_000);
    assert.deepEqual(events, ['a1:online', 'a2:online'], 'within the grace nothing is dropped');
    await new Promise((r) => setTimeout(r, 30));
    relay.expire('t', new Set(['a2\0live']), 10);
    assert.deepEqual(events, ['a1:online', 'a2:online', 'a1:offline']);
    assert.deepEqual([...relay.tenants()], ['t']);
  } finally {
    await hub.close();
  }
});

test('relayed commands answer data, or the handler\'s code; unknown commands and plain errors are coded too', async () => {
  const { relay, hub } = rig();
  try {
    relay.command('desk.status', (ctx) => ({ who: ctx.identity.id }));
    relay.command('desk.canned', () => { throw new KefuError('KEFU_ERR_FORBIDDEN', 'only agents'); });
    relay.command('desk.queue', () => { throw new Error('boom'); });
    relay.command('desk.close', () => undefined);
    const base = { node: 'n', args: {}, deadline: Date.now() + 1000, ctx: { identity: { tenant: 't', id: 'a1', role: 'agent' } } };
    assert.deepEqual(await relay.run({ ...base, id: '1', name: 'desk.status' }), { id: '1', ok: true, data: { who: 'a1' } });
    assert.deepEqual(await relay.run({ ...base, id: '2', name: 'desk.canned' }), { id: '2', ok: false, code: 'KEFU_ERR_FORBIDDEN', message: 'only agents' });
    assert.deepEqual(await relay.run({ ...base, id: '3', name: 'desk.queue' }), { id: '3', ok: false, code: 'KEFU_ERR_INTERNAL', message: 'boom' });
    assert.deepEqual(await relay.run({ ...base, id: '4', name: 'desk.close' }), { id: '4', ok: true });
    assert.deepEqual(await relay.run({ ...base, id: '5', name: 'desk.nope' }), { id: '5', ok: false, code: 'KEFU_ERR_UNKNOWN_COMMAND', message: 'no command "desk.nope"' });
  } finally {
    await hub.close();
  }
});
