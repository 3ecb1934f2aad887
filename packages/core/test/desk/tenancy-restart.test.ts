import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesk, Client, closeAll, until, sleep } from './helpers.js';
import { LevelDeskStore } from '../../src/desk/store/level-desk-store.js';

test('tenant isolation: an agent never sees, joins or is offered another tenant\'s conversation', async () => {
  const rig = await startDesk();
  const clients: Client[] = [];
  try {
    const other = await Client.connect(rig.url, 't2:a1:agent');
    clients.push(other);
    await until(() => rig.desk.stats.agentsOnline === 1, 't2 agent online');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    await v.event('desk.queue_position');
    await sleep(150);
    assert.equal(other.has('desk.offer'), false, 'a free agent of t2 is not offered t1\'s chat');
    assert.equal(rig.desk.conversation(conv)!.state, 'waiting');
    const q = await other.cmd('desk.queue');
    assert.deepEqual(q, { ok: true, data: { size: 0, entries: [] } });
    other.send({ t: 'join', ref: 'j1', conv });
    const refused = await other.wait((f) => f.t === 'error' && f.ref === 'j1', 'join refused');
    assert.ok(refused.t === 'error' && ['KEFU_ERR_CONVERSATION_NOT_FOUND', 'KEFU_ERR_FORBIDDEN'].includes(refused.code), JSON.stringify(refused));

    const mine = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(mine);
    const o = await mine.event<{ offerId: string }>('desk.offer');
    // Same agent id in another tenant: the offer reads as unknown to them.
    const stolen = await other.cmd('desk.accept', undefined, { offerId: o.offerId });
    assert.equal(stolen.ok ? null : stolen.code, 'KEFU_ERR_DESK_OFFER_EXPIRED');
    assert.equal(rig.desk.conversation(conv)!.state, 'offered');
    assert.ok((await mine.cmd('desk.accept', undefined, { offerId: o.offerId })).ok);
    const t2agent = await mine.cmd('desk.transfer', conv, { agent: 'a2' });
    assert.equal(t2agent.ok ? null : t2agent.code, 'KEFU_ERR_DESK_AGENT_NOT_FOUND');
    // An agent of the same tenant who is not assigned cannot join by id either.
    const bystander = await Client.connect(rig.url, 't1:a3:agent');
    clients.push(bystander);
    bystander.send({ t: 'join', ref: 'j2', conv });
    const b = await bystander.wait((f) => (f.t === 'error' || f.t === 'joined') && f.ref === 'j2', 'join reply');
    assert.equal(b.t, 'error');
    assert.equal(other.has('desk.assigned'), false);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('restart mid-queue on LevelDB keeps order, positions and assignments', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-desk-'));
  const vip = new Set(['g1']);
  const profiles = { get: async (uid: string) => ({ vip: vip.has(uid) ? 1 : 0 }) };
  const rig = await startDesk({ store: new LevelDeskStore({ location: dir }), profiles, agentProfile: () => ({ capacity: 1 }) });
  const clients: Client[] = [];
  try {
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1);
    const visitors = await Promise.all(['v1', 'v2', 'g1', 'v3'].map((id) => Client.connect(rig.url, `t1:${id}:visitor`)));
    clients.push(...visitors);
    const convs: string[] = [];
    for (const v of visitors) {
      convs.push(await v.open());
      await v.event('desk.handoff');
    }
    const [c1, c2, cg, c3] = convs as [string, string, string, string];
    const o = await a1.event<{ offerId: string; conv: string }>('desk.offer');
    assert.equal(o.conv, c1);
    assert.ok((await a1.cmd('desk.accept', undefined, { offerId: o.offerId })).ok);
    const before = (await a1.cmd('desk.queue')) as { ok: true; data: { entries: Array<{ conv: string; position: number }> } };
    assert.deepEqual(before.data.entries.map((e) => e.conv), [cg, c2, c3]);

    // The desk process goes away and comes back on the same database (the hub stays up).
    const desk2 = await rig.restartDesk({ store: new LevelDeskStore({ location: dir }), profiles, agentProfile: () => ({ capacity: 1 }), agentGraceMs: 5000 });
    assert.equal(desk2.conversation(c1)!.state, 'assigned');
    assert.equal(desk2.conversation(c1)!.agentId, 'a1');
    assert.deepEqual(await Promise.all([cg, c2, c3].map((c) => desk2.position(c))), [1, 2, 3]);
    const after = (await a1.cmd('desk.queue')) as { ok: true; data: { entries: Array<{ conv: string; position: number }> } };
    assert.deepEqual(after.data.entries.map((e) => [e.conv, e.position]), before.data.entries.map((e) => [e.conv, e.position]));
    // New arrivals go behind the restored ones.
    const v4 = await Client.connect(rig.url, 't1:v4:visitor');
    clients.push(v4);
    const c4 = await v4.open();
    assert.equal((await v4.event('desk.queue_position')).position, 4);
    // The agent is still known with the chat, and closing it moves the queue.
    const st = await a1.cmd('desk.status');
    assert.ok(st.ok && (st.data.conversations as string[]).includes(c1));
    assert.ok((await a1.cmd('desk.close', c1)).ok);
    assert.equal(desk2.conversation(c4)!.state, 'waiting');
  } finally {
    await closeAll(...clients);
    await rig.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('whole-server restart on LevelDB (hub and desk): reconnecting clients find their place and their agent', async () => {
  const { LevelConversationStore } = await import('../../src/conversation/level-conversation-store.js');
  const hubDir = await mkdtemp(join(tmpdir(), 'kefu-desk-hub-'));
  const deskDir = await mkdtemp(join(tmpdir(), 'kefu-desk-'));
  const make = () => startDesk(
    { store: new LevelDeskStore({ location: deskDir }), agentProfile: () => ({ capacity: 1 }), agentGraceMs: 5000 },
    { store: new LevelConversationStore({ location: hubDir }) },
  );
  let rig = await make();
  const clients: Client[] = [];
  try {
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    const vs = await Promise.all(['v1', 'v2', 'v3'].map((id) => Client.connect(rig.url, `t1:${id}:visitor`)));
    const convs: string[] = [];
    for (const v of vs) { convs.push(await v.open()); await v.event('desk.handoff'); }
    const [c1, c2, c3] = convs as [string, string, string];
    const o = await a1.event<{ offerId: string }>('desk.offer');
    assert.ok((await a1.cmd('desk.accept', undefined, { offerId: o.offerId })).ok);
    await closeAll(a1, ...vs);
    await rig.close();

    rig = await make();
    const a1b = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1b);
    await until(() => rig.desk.stats.agentsOnline === 1, 'agent back online');
    const st = await a1b.cmd('desk.status');
    assert.ok(st.ok);
    assert.deepEqual(st.data.conversations, [c1]);
    assert.equal(a1b.has('desk.offer'), false, 'capacity 1 is still held by the restored chat');
    const v2 = await Client.connect(rig.url, 't1:v2:visitor');
    clients.push(v2);
    v2.send({ t: 'resume', ref: 'r', conv: c2, after: 0 });
    await v2.wait((f) => f.t === 'resumed', 'resumed');
    assert.deepEqual(await v2.cmd('desk.human', c2), { ok: true, data: { state: 'waiting', position: 1 } });
    assert.equal(await rig.desk.position(c3), 2);
    a1b.send({ t: 'resume', ref: 'r', conv: c1, after: 0 });
    await a1b.wait((f) => f.t === 'resumed', 'agent resumed its chat');
    assert.ok((await a1b.cmd('desk.close', c1)).ok);
    const next = await a1b.event<{ conv: string }>('desk.offer');
    assert.equal(next.conv, c2);
  } finally {
    await closeAll(...clients);
    await rig.close();
    await rm(hubDir, { recursive: true, force: true });
    await rm(deskDir, { recursive: true, force: true });
  }
});
