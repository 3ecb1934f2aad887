import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDesk, Client, closeAll, until, sleep } from './helpers.js';

test('no classifier: the chat goes straight to the queue, is offered, accepted, and the agent joins it', async () => {
  const rig = await startDesk();
  let v: Client | undefined, a1: Client | undefined;
  try {
    v = await Client.connect(rig.url, 't1:v1:visitor:Ann');
    const conv = await v.open();
    const handoff = await v.event('desk.handoff');
    assert.deepEqual(handoff, { conv, reason: 'no_classifier', intent: null });
    assert.equal((await v.event('desk.offline')).conv, conv);
    const pos = await v.event('desk.queue_position');
    assert.equal(pos.position, 1);
    assert.equal(pos.size, 1);
    assert.equal(typeof pos.estimatedWaitMs, 'number');
    v.say(conv, 'my order is late');

    a1 = await Client.connect(rig.url, 't1:a1:agent:Bob');
    const offer = await a1.event<{ offerId: string; conv: string; expiresAt: number; transcript: Array<{ body: string }>; visitor: { id: string } }>('desk.offer');
    assert.equal(offer.conv, conv);
    assert.equal(offer.visitor.id, 'v1');
    assert.ok(offer.expiresAt > Date.now());
    assert.deepEqual(offer.transcript.map((l) => l.body), ['my order is late']);
    assert.equal(rig.desk.conversation(conv)?.state, 'offered');

    const r = await a1.cmd('desk.accept', undefined, { offerId: offer.offerId });
    assert.deepEqual(r, { ok: true, data: { conv, state: 'assigned' } });
    const assigned = await v.event('desk.assigned');
    assert.deepEqual(assigned, { conv, agent: { id: 'a1', role: 'agent', name: 'Bob' } });
    await a1.event('desk.assigned');
    // The agent is now a member: the visitor's messages reach them.
    v.say(conv, 'hello?');
    const msg = await a1.wait((f) => f.t === 'msg' && f.body === 'hello?', 'msg');
    assert.equal(msg.t, 'msg');
    const status = await a1.cmd('desk.status');
    assert.ok(status.ok);
    assert.deepEqual(status.data, { agent: 'a1', status: 'online', capacity: 3, active: 1, conversations: [conv], teams: [] });
  } finally {
    await closeAll(v, a1);
    await rig.close();
  }
});

test('capacity is respected: a second chat waits until the agent closes the first', async () => {
  const rig = await startDesk({ agentProfile: () => ({ capacity: 1 }) });
  let v1: Client | undefined, v2: Client | undefined, a1: Client | undefined;
  try {
    a1 = await Client.connect(rig.url, 't1:a1:agent');
    v1 = await Client.connect(rig.url, 't1:v1:visitor');
    v2 = await Client.connect(rig.url, 't1:v2:visitor');
    const c1 = await v1.open();
    const o1 = await a1.event<{ offerId: string; conv: string }>('desk.offer');
    assert.equal(o1.conv, c1);
    const c2 = await v2.open();
    // The offered chat keeps its place ahead until it is accepted.
    await v2.event('desk.queue_position', (d) => d.position === 2);
    await sleep(100);
    assert.equal(a1.has('desk.offer'), false, 'no second offer while the offer holds the only slot');
    assert.ok((await a1.cmd('desk.accept', undefined, { offerId: o1.offerId })).ok);
    await v2.event('desk.queue_position', (d) => d.position === 1);
    await sleep(100);
    assert.equal(a1.has('desk.offer'), false, 'no second offer while the chat holds the only slot');
    assert.equal(rig.desk.conversation(c2)?.state, 'waiting');

    const closed = await a1.cmd('desk.close', c1, { reason: 'solved' });
    assert.deepEqual(closed, { ok: true, data: { conv: c1, state: 'closed' } });
    assert.deepEqual(await v1.event('desk.closed'), { conv: c1, by: 'agent', reason: 'solved', canRate: true });
    const o2 = await a1.event<{ conv: string }>('desk.offer');
    assert.equal(o2.conv, c2);
  } finally {
    await closeAll(v1, v2, a1);
    await rig.close();
  }
});

test('decline passes the offer to the next agent; a timeout passes it on again and revokes it', async () => {
  const rig = await startDesk({ offerTimeoutMs: 300, strategy: (await import('../../src/desk/strategies.js')).roundRobin() });
  const clients: Client[] = [];
  try {
    const [a1, a2, a3] = await Promise.all(['a1', 'a2', 'a3'].map((id) => Client.connect(rig.url, `t1:${id}:agent`)));
    clients.push(a1!, a2!, a3!);
    await until(() => rig.desk.stats.agentsOnline === 3, 'three agents online');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    const o1 = await a1!.event<{ offerId: string; conv: string }>('desk.offer');
    assert.equal(o1.conv, conv);
    assert.deepEqual(await a1!.cmd('desk.decline', undefined, { offerId: o1.offerId }), { ok: true, data: { conv } });
    const o2 = await a2!.event<{ offerId: string }>('desk.offer');
    // a2 lets it time out
    const revoked = await a2!.event('desk.offer_revoked');
    assert.deepEqual(revoked, { offerId: o2.offerId, conv, reason: 'timeout' });
    const late = await a2!.cmd('desk.accept', undefined, { offerId: o2.offerId });
    assert.deepEqual(late.ok ? null : late.code, 'KEFU_ERR_DESK_OFFER_EXPIRED');
    const o3 = await a3!.event<{ offerId: string }>('desk.offer');
    // a1's decline of the first offer cannot be replayed on the new one, nor can a1 take a3's.
    const notYours = await a1!.cmd('desk.accept', undefined, { offerId: o3.offerId });
    assert.equal(notYours.ok ? null : notYours.code, 'KEFU_ERR_DESK_OFFER_NOT_YOURS');
    assert.equal(rig.desk.conversation(conv)?.offer?.agentId, 'a3', 'no state change on a refused accept');
    assert.ok((await a3!.cmd('desk.accept', undefined, { offerId: o3.offerId })).ok);
    assert.equal(rig.desk.conversation(conv)?.agentId, 'a3');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('VIP moves ahead of earlier normal visitors; positions update as the queue moves', async () => {
  const vip = new Set(['gold']);
  const rig = await startDesk({ profiles: { get: async (uid: string) => ({ uid, data: { membership: { vip: vip.has(uid) ? 2 : 0 } } }) } });
  const clients: Client[] = [];
  try {
    const n1 = await Client.connect(rig.url, 't1:n1:visitor');
    const n2 = await Client.connect(rig.url, 't1:n2:visitor');
    const g = await Client.connect(rig.url, 't1:gold:visitor');
    clients.push(n1, n2, g);
    const c1 = await n1.open();
    await n1.event('desk.queue_position', (d) => d.position === 1);
    const c2 = await n2.open();
    await n2.event('desk.queue_position', (d) => d.position === 2);
    const cg = await g.open();
    assert.equal((await g.event('desk.queue_position')).position, 1);
    await n1.event('desk.queue_position', (d) => d.position === 2);
    await n2.event('desk.queue_position', (d) => d.position === 3);
    assert.equal(rig.desk.conversation(cg)?.priority, 2);

    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1);
    const queue = await a1.cmd('desk.queue');
    assert.ok(queue.ok);
    assert.deepEqual((queue.data.entries as Array<{ conv: string }>).map((e) => e.conv), [cg, c1, c2]);
    const o = await a1.event<{ offerId: string; conv: string; profile: { membership: { vip: number } } }>('desk.offer');
    assert.equal(o.conv, cg);
    assert.equal(o.profile.membership.vip, 2);
    assert.ok((await a1.cmd('desk.accept', undefined, { offerId: o.offerId })).ok);
    await n1.event('desk.queue_position', (d) => d.position === 1);
    await n2.event('desk.queue_position', (d) => d.position === 2);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});
