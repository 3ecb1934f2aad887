import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Desk } from '../../src/desk/desk.js';
import { sticky } from '../../src/desk/strategies.js';
import { startDesk, Client, closeAll, sleep, until } from './helpers.js';

const visitor = (id: string) => ({ id, role: 'visitor' as const });
const agentId = (tenant: string, id: string) => ({ tenant, id, role: 'agent' as const });

test('maxWaiting: a hand-off beyond it fails with KEFU_ERR_DESK_QUEUE_FULL and the chat stays with the bot', async () => {
  const rig = await startDesk({ maxWaiting: 2, classifier: { classify: async () => ({ intent: 'x', confidence: 0 }) } });
  const clients: Client[] = [];
  try {
    for (const id of ['v1', 'v2', 'v3']) {
      const v = await Client.connect(rig.url, `t1:${id}:visitor`);
      clients.push(v);
      const conv = await v.open();
      const r = await v.cmd('desk.human', conv);
      if (id === 'v3') {
        assert.equal(r.ok ? null : r.code, 'KEFU_ERR_DESK_QUEUE_FULL');
        assert.equal(rig.desk.conversation(conv)!.state, 'bot');
      } else {
        assert.ok(r.ok);
      }
    }
    // Another tenant has its own line.
    const other = await Client.connect(rig.url, 't2:v1:visitor');
    clients.push(other);
    assert.ok((await other.cmd('desk.human', await other.open())).ok);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('maxWaiting holds under concurrent hand-offs: pushes in flight count against it', async () => {
  const desk = new Desk({ maxWaiting: 2, positionUpdateMs: 0 });
  await desk.open();
  try {
    const results = await Promise.allSettled(['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => desk.startConversation({ id, tenant: 't1', visitor: visitor(`v-${id}`) })));
    assert.equal(results.filter((r) => r.status === 'rejected' && (r.reason as { code?: string }).code === 'KEFU_ERR_DESK_QUEUE_FULL').length, 3);
    assert.equal(desk.stats.waiting, 2);
    const states = ['c1', 'c2', 'c3', 'c4', 'c5'].map((id) => desk.conversation(id)!.state);
    assert.deepEqual(states.filter((s) => s === 'waiting').length, 2);
    assert.deepEqual(states.filter((s) => s === 'bot').length, 3, 'refused hand-offs leave the chat with the bot');
  } finally {
    await desk.close();
  }
});

test('maxConversations, maxTranscript and maxProfileBytes bound memory', async () => {
  const errors: unknown[] = [];
  const desk = new Desk({
    maxConversations: 2, maxWaiting: 2, maxTranscript: 3, maxProfileBytes: 100,
    profiles: { get: async (uid) => (uid === 'big' ? { blob: 'x'.repeat(500) } : { vip: 1 }) },
  });
  desk.on('error', (e) => errors.push(e));
  await desk.open();
  try {
    const a = await desk.startConversation({ id: 'c1', tenant: 't1', visitor: visitor('big') });
    await desk.startConversation({ id: 'c2', tenant: 't1', visitor: visitor('v2') });
    await assert.rejects(desk.startConversation({ id: 'c3', tenant: 't1', visitor: visitor('v3') }), { code: 'KEFU_ERR_DESK_QUEUE_FULL' });
    assert.deepEqual(a.profile, {}, 'an oversized profile is dropped');
    assert.ok(errors.some((e) => (e as { code?: string }).code === 'KEFU_ERR_PAYLOAD_TOO_LARGE'));
    assert.equal(desk.conversation('c2')!.priority, 1);
    for (let i = 0; i < 5; i++) await desk.message('c1', visitor('big'), `m${i}`);
    assert.deepEqual(desk.conversation('c1')!.transcript.map((l) => l.body), ['m2', 'm3', 'm4']);
    await assert.rejects(Promise.resolve().then(() => desk.queueSnapshot(agentId('t1', 'a1'), 501)), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
    await assert.rejects(desk.startConversation({ id: 'has space', tenant: 't1', visitor: visitor('v9') }), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
  } finally {
    await desk.close();
  }
});

test('without a hub: autoAccept assigns directly; sticky sends a returning visitor to their last agent', async () => {
  const desk = new Desk({ autoAccept: true, strategy: sticky(), positionUpdateMs: 0 });
  await desk.open();
  try {
    const assigned = new Map<string, string>();
    desk.on('assigned', (c, a) => assigned.set(c.id, a));
    await desk.agentOnline(agentId('t1', 'a1'));
    await desk.agentOnline(agentId('t1', 'a2'));
    await desk.startConversation({ id: 'c1', tenant: 't1', visitor: visitor('v1') });
    await desk.startConversation({ id: 'c2', tenant: 't1', visitor: visitor('v2') });
    const until = async (f: () => boolean) => { for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 5)); };
    await until(() => assigned.size === 2);
    assert.notEqual(assigned.get('c1'), assigned.get('c2'), 'least-busy spreads the load');
    const first = assigned.get('c1')!;
    await desk.closeConversation({ tenant: 't1', id: 'v1', role: 'visitor' }, 'c1');
    await desk.startConversation({ id: 'c4', tenant: 't1', visitor: visitor('v4') });
    await until(() => assigned.has('c4'));
    assert.equal(assigned.get('c4'), first);
    // Both agents hold one chat; least-busy alone would now pick the other (who waited longer).
    // v1 comes back: sticky picks their last agent.
    await desk.startConversation({ id: 'c3', tenant: 't1', visitor: visitor('v1') });
    await until(() => assigned.has('c3'));
    assert.equal(assigned.get('c3'), first);
  } finally {
    await desk.close();
  }
});

test('maxPositionEventsPerSec: after a flush of n position events the next waits n / rate seconds', async () => {
  const rig = await startDesk({ maxPositionEventsPerSec: 2, agentProfile: () => ({ capacity: 1 }) });
  const clients: Client[] = [];
  try {
    const vs: Client[] = [];
    const convs: string[] = [];
    for (const id of ['v1', 'v2', 'v3', 'v4', 'v5']) {
      const v = await Client.connect(rig.url, `t1:${id}:visitor`);
      vs.push(v);
      convs.push(await v.open());
      await v.event('desk.queue_position');
    }
    clients.push(...vs);
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1);
    const o1 = await a1.event<{ offerId: string }>('desk.offer');
    assert.ok((await a1.cmd('desk.accept', undefined, { offerId: o1.offerId })).ok);
    // First flush after the head left: v2..v5 move up, 4 events at once (a burst is allowed).
    await Promise.all(vs.slice(1).map((v, i) => v.event('desk.queue_position', (d) => d.position === i + 1)));
    // The next flush may come only 4 / 2 = 2 s later.
    assert.ok((await a1.cmd('desk.close', convs[0]!)).ok);
    const o2 = await a1.event<{ offerId: string }>('desk.offer');
    assert.ok((await a1.cmd('desk.accept', undefined, { offerId: o2.offerId })).ok);
    await sleep(1000);
    assert.equal(vs[2]!.has('desk.queue_position'), false, 'no position event within the rate window');
    assert.equal(await rig.desk.position(convs[2]!), 1, 'the desk itself knows the new position at once');
    await vs[2]!.event('desk.queue_position', (d) => d.position === 1, 5000);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('declineCooldownMs: a lone agent who declined is offered the chat again only after the cooldown', async () => {
  const rig = await startDesk({ declineCooldownMs: 600 });
  const clients: Client[] = [];
  try {
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(a1, v);
    const conv = await v.open();
    const o1 = await a1.event<{ offerId: string }>('desk.offer');
    assert.ok((await a1.cmd('desk.decline', undefined, { offerId: o1.offerId, reason: 'busy' })).ok);
    await sleep(250);
    assert.equal(a1.has('desk.offer'), false, 'not offered again during the cooldown');
    assert.equal(rig.desk.conversation(conv)!.state, 'waiting');
    const o2 = await a1.event<{ offerId: string; conv: string }>('desk.offer', () => true, 4000);
    assert.equal(o2.conv, conv);
    assert.notEqual(o2.offerId, o1.offerId);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('closedRetentionMs: a closed chat leaves memory but can still be rated once, from the store; comments are bounded', async () => {
  const rig = await startDesk({ closedRetentionMs: 0, autoAccept: true });
  const clients: Client[] = [];
  try {
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(a1, v);
    const conv = await v.open();
    await v.event('desk.assigned');
    assert.ok((await v.cmd('desk.close', conv)).ok);
    await until(() => rig.desk.conversation(conv) === undefined, 'evicted from memory');
    const long = await v.cmd('desk.rate', conv, { score: 3, comment: 'x'.repeat(1001) });
    assert.equal(long.ok ? null : long.code, 'KEFU_ERR_INVALID_ARGUMENT');
    assert.deepEqual(await v.cmd('desk.rate', conv, { score: 3, comment: 'x'.repeat(1000) }), { ok: true, data: { conv, score: 3 } });
    assert.equal((await rig.desk.store.get('t1', conv))?.rating?.score, 3);
    const again = await v.cmd('desk.rate', conv, { score: 5 });
    assert.equal(again.ok ? null : again.code, 'KEFU_ERR_DESK_ALREADY_RATED');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});
