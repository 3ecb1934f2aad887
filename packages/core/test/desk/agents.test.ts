import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDesk, Client, closeAll, until, sleep } from './helpers.js';
import { skills } from '../../src/desk/strategies.js';
import { LevelDeskStore } from '../../src/desk/store/level-desk-store.js';

test('away agents get no new offers; back online they do', async () => {
  const rig = await startDesk();
  const clients: Client[] = [];
  try {
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1);
    await until(() => rig.desk.stats.agentsOnline === 1, 'online');
    const away = await a1.cmd('desk.status', undefined, { status: 'away' });
    assert.ok(away.ok && away.data.status === 'away');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    await v.event('desk.queue_position');
    await sleep(150);
    assert.equal(a1.has('desk.offer'), false);
    const bad = await a1.cmd('desk.status', undefined, { status: 'busy' });
    assert.equal(bad.ok ? null : bad.code, 'KEFU_ERR_INVALID_FRAME');
    assert.ok((await a1.cmd('desk.status', undefined, { status: 'online' })).ok);
    assert.equal((await a1.event<{ conv: string }>('desk.offer')).conv, conv);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('skills routing over the wire: the intent picks the team even when another agent is less busy', async () => {
  const rig = await startDesk({
    classifier: { classify: async (text: string) => ({ intent: text.includes('refund') ? 'refund' : 'other', confidence: 0.99 }) },
    strategy: skills({ teams: { refund: 'billing' } }),
    agentProfile: (i) => ({ teams: i.id === 'b1' ? ['billing'] : ['sales'], capacity: 2 }),
  });
  const clients: Client[] = [];
  try {
    const [s1, b1] = await Promise.all([Client.connect(rig.url, 't1:s1:agent'), Client.connect(rig.url, 't1:b1:agent')]);
    clients.push(s1!, b1!);
    await until(() => rig.desk.stats.agentsOnline === 2, 'online');
    // b1 gets busier first: a chat with no mapped intent goes to the least busy (b1 by id order, tie).
    const v0 = await Client.connect(rig.url, 't1:v0:visitor');
    clients.push(v0);
    const c0 = await v0.open();
    v0.say(c0, 'hello');
    await until(() => rig.desk.conversation(c0)?.offer !== null, 'first offer');
    const first = rig.desk.conversation(c0)!.offer!.agentId;
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    v.say(conv, 'I want a refund');
    await until(() => rig.desk.conversation(conv)?.offer !== null, 'refund offer');
    assert.equal(rig.desk.conversation(conv)!.offer!.agentId, 'b1', `billing takes refunds (first chat went to ${first})`);
    const o = await b1!.event<{ intent: { name: string } }>('desk.offer', (d) => d.conv === conv);
    assert.equal(o.intent.name, 'refund');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('setAgent settings are persisted and win over agentProfile after a restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-desk-agents-'));
  const rig = await startDesk({ store: new LevelDeskStore({ location: dir }), agentProfile: () => ({ capacity: 1 }) });
  const clients: Client[] = [];
  try {
    await rig.desk.setAgent('t1', 'a1', { capacity: 4, teams: ['vip'] });
    await assert.rejects(rig.desk.setAgent('t1', 'a1', { capacity: -1 }), { name: 'RangeError', message: 'agent capacity must be an integer >= 0' });
    await rig.restartDesk({ store: new LevelDeskStore({ location: dir }), agentProfile: () => ({ capacity: 1 }) });
    const a1 = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(a1);
    await until(() => rig.desk.stats.agentsOnline === 1, 'online');
    const st = await a1.cmd('desk.status');
    assert.ok(st.ok);
    assert.equal(st.data.capacity, 4);
    assert.deepEqual(st.data.teams, ['vip']);
  } finally {
    await closeAll(...clients);
    await rig.close();
    await rm(dir, { recursive: true, force: true });
  }
});
