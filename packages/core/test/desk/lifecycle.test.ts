import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startDesk, Client, closeAll, until, sleep, type DeskRig } from './helpers.js';

/** Connects agents and waits until the desk has them online. */
async function agents(rig: DeskRig, ...specs: string[]): Promise<Client[]> {
  const out = await Promise.all(specs.map((s) => Client.connect(rig.url, s)));
  await until(() => rig.desk.stats.agentsOnline >= specs.length, 'agents online');
  return out;
}

/** A visitor opens a chat and the given agent accepts it. */
async function assign(v: Client, agent: Client): Promise<string> {
  const conv = await v.open();
  const o = await agent.event<{ offerId: string }>('desk.offer', (d) => d.conv === conv);
  assert.ok((await agent.cmd('desk.accept', undefined, { offerId: o.offerId })).ok);
  await v.event('desk.assigned');
  return conv;
}

test('transfer to an agent, to a team, and to a missing agent', async () => {
  const teams: Record<string, string[]> = { a1: ['sales'], a2: ['sales'], a3: ['billing'] };
  const rig = await startDesk({ autoAccept: false, agentProfile: (i) => ({ teams: teams[i.id] ?? [], capacity: 2 }) });
  const clients: Client[] = [];
  try {
    const [a1, a2, a3] = await agents(rig, 't1:a1:agent', 't1:a2:agent', 't1:a3:agent');
    clients.push(a1!, a2!, a3!);
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    await until(() => rig.desk.conversation(conv)?.offer !== null, 'an offer');
    const holderId = rig.desk.conversation(conv)!.offer!.agentId;
    const holder = { a1, a2, a3 }[holderId]!;
    const o = await holder.event<{ offerId: string }>('desk.offer');
    assert.ok((await holder.cmd('desk.accept', undefined, { offerId: o.offerId })).ok);
    const other = [a1!, a2!, a3!].find((a) => a !== holder && a !== a3)!;
    const otherId = holderId === 'a1' ? 'a2' : 'a1';

    const missing = await holder.cmd('desk.transfer', conv, { agent: 'nobody' });
    assert.equal(missing.ok ? null : missing.code, 'KEFU_ERR_DESK_AGENT_NOT_FOUND');
    const noTeam = await holder.cmd('desk.transfer', conv, { team: 'legal' });
    assert.equal(noTeam.ok ? null : noTeam.code, 'KEFU_ERR_DESK_TEAM_NOT_FOUND');
    const both = await holder.cmd('desk.transfer', conv, { agent: otherId, team: 'sales' });
    assert.equal(both.ok ? null : both.code, 'KEFU_ERR_INVALID_ARGUMENT');
    const notMine = await other.cmd('desk.transfer', conv, { agent: 'a3' });
    // Not a member of the chat: the hub refuses before the desk is asked.
    assert.equal(notMine.ok ? null : notMine.code, 'KEFU_ERR_NOT_MEMBER');
    assert.equal(rig.desk.conversation(conv)!.agentId, holderId, 'refused transfers change nothing');

    const toAgent = await holder.cmd('desk.transfer', conv, { agent: otherId, note: 'VIP, be nice' });
    assert.deepEqual(toAgent, { ok: true, data: { conv, state: 'assigned', agent: otherId, team: null } });
    const t = await v.event<{ agent: { id: string }; note: string }>('desk.transferred');
    assert.equal(t.agent.id, otherId);
    assert.equal(t.note, 'VIP, be nice');
    await holder.event('desk.transferred');
    await other.event('desk.assigned', (d) => d.conv === conv);
    v.say(conv, 'still there?');
    await other.wait((f) => f.t === 'msg' && f.body === 'still there?', 'msg to the new agent');

    // To a team: back to the queue head, only billing (a3) may take it.
    const toTeam = await other.cmd('desk.transfer', conv, { team: 'billing' });
    assert.deepEqual(toTeam, { ok: true, data: { conv, state: 'waiting', agent: null, team: 'billing' } });
    const o3 = await a3!.event<{ offerId: string; reason: string }>('desk.offer', (d) => d.conv === conv);
    assert.equal(o3.reason, 'transfer');
    assert.ok((await a3!.cmd('desk.accept', undefined, { offerId: o3.offerId })).ok);
    assert.equal(rig.desk.conversation(conv)!.agentId, 'a3');
    assert.equal(holder.has('desk.offer', (d) => d.conv === conv), false);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('an agent who crashes has their chats requeued at the head after the grace period', async () => {
  const rig = await startDesk({ agentGraceMs: 300, agentProfile: () => ({ capacity: 1 }) });
  const clients: Client[] = [];
  try {
    const [a1] = await agents(rig, 't1:a1:agent');
    const v1 = await Client.connect(rig.url, 't1:v1:visitor');
    const v2 = await Client.connect(rig.url, 't1:v2:visitor');
    clients.push(v1, v2);
    const c1 = await assign(v1, a1!);
    const c2 = await v2.open();
    await v2.event('desk.queue_position', (d) => d.position === 1);

    await a1!.crash();
    await sleep(120);
    assert.equal(rig.desk.conversation(c1)!.state, 'assigned', 'still assigned during the grace period');
    await until(() => rig.desk.conversation(c1)!.state === 'waiting', 'requeue after grace', 3000);
    assert.equal(await rig.desk.position(c1), 1, 'the requeued chat is at the head');
    await v1.event('desk.queue_position', (d) => d.position === 1);
    await v2.event('desk.queue_position', (d) => d.position === 2);

    const [a2] = await agents(rig, 't1:a2:agent');
    clients.push(a2!);
    const o = await a2!.event<{ conv: string; reason: string; transcript: unknown[] }>('desk.offer');
    assert.equal(o.conv, c1);
    assert.equal(o.reason, 'requeue');
    assert.equal(rig.desk.conversation(c2)!.state, 'waiting');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('an agent who reconnects within the grace period keeps their chats', async () => {
  const rig = await startDesk({ agentGraceMs: 1500 });
  const clients: Client[] = [];
  try {
    const [a1] = await agents(rig, 't1:a1:agent');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await assign(v, a1!);
    await a1!.crash();
    await until(() => rig.desk.stats.agentsOnline === 0, 'agent offline');
    const again = await Client.connect(rig.url, 't1:a1:agent');
    clients.push(again);
    await until(() => rig.desk.stats.agentsOnline === 1, 'agent back');
    await sleep(1700);
    assert.equal(rig.desk.conversation(conv)!.state, 'assigned');
    assert.equal(rig.desk.conversation(conv)!.agentId, 'a1');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('close by the visitor, CSAT rating once, and the bad inputs around it change nothing', async () => {
  const rig = await startDesk();
  const clients: Client[] = [];
  try {
    const [a1] = await agents(rig, 't1:a1:agent');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    const intruder = await Client.connect(rig.url, 't1:v9:visitor');
    clients.push(a1!, v, intruder);
    const conv = await assign(v, a1!);

    const early = await v.cmd('desk.rate', conv, { score: 5 });
    assert.equal(early.ok ? null : early.code, 'KEFU_ERR_DESK_INVALID_STATE');
    const wrongRole = await v.cmd('desk.accept', undefined, { offerId: 'x' });
    assert.equal(wrongRole.ok ? null : wrongRole.code, 'KEFU_ERR_FORBIDDEN');
    const foreign = await intruder.cmd('desk.close', conv);
    // The hub refuses a command naming a conversation the connection is not in.
    assert.ok(!foreign.ok && ['KEFU_ERR_NOT_MEMBER', 'KEFU_ERR_CONVERSATION_NOT_FOUND'].includes(foreign.code), JSON.stringify(foreign));
    const unknownArg = await v.cmd('desk.close', conv, { why: 'x' });
    assert.equal(unknownArg.ok ? null : unknownArg.code, 'KEFU_ERR_INVALID_FRAME');
    // desk.human takes no arguments (a `text` it would only have ignored is refused).
    const humanText = await v.cmd('desk.human', conv, { text: 'please' });
    assert.equal(humanText.ok ? null : humanText.code, 'KEFU_ERR_INVALID_FRAME');
    assert.equal(rig.desk.conversation(conv)!.state, 'assigned');

    assert.deepEqual(await v.cmd('desk.close', conv), { ok: true, data: { conv, state: 'closed' } });
    assert.deepEqual(await a1!.event('desk.closed'), { conv, by: 'visitor', reason: null, canRate: true });
    const twiceClosed = await v.cmd('desk.close', conv);
    assert.equal(twiceClosed.ok ? null : twiceClosed.code, 'KEFU_ERR_DESK_INVALID_STATE');
    // The agent's sockets leave a closed chat (a long shift must not reach the hub's
    // per-connection conversation limit); the visitor stays in it, to rate.
    await a1!.wait((f) => f.t === 'left' && f.conv === conv, 'agent left the closed chat');
    const agentRates = await a1!.cmd('desk.rate', conv, { score: 1 });
    assert.equal(agentRates.ok ? null : agentRates.code, 'KEFU_ERR_NOT_MEMBER');
    await assert.rejects(rig.desk.rate({ tenant: 't1', id: 'a1', role: 'agent' }, conv, 1), { code: 'KEFU_ERR_FORBIDDEN' });
    const bad = await v.cmd('desk.rate', conv, { score: 6 });
    assert.equal(bad.ok ? null : bad.code, 'KEFU_ERR_INVALID_ARGUMENT');
    assert.deepEqual(await v.cmd('desk.rate', conv, { score: 4, comment: 'quick, thanks' }), { ok: true, data: { conv, score: 4 } });
    assert.deepEqual(await v.event('desk.rated'), { conv, score: 4 });
    const twice = await v.cmd('desk.rate', conv, { score: 1 });
    assert.equal(twice.ok ? null : twice.code, 'KEFU_ERR_DESK_ALREADY_RATED');
    assert.deepEqual(rig.desk.conversation(conv)!.rating?.score, 4);
    assert.equal((await rig.desk.store.get('t1', conv))?.rating?.comment, 'quick, thanks');
    const status = await a1!.cmd('desk.status');
    assert.ok(status.ok && status.data.active === 0, 'closing frees the capacity');
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('idle chats are closed; canned replies are per tenant; only agents read the queue', async () => {
  const rig = await startDesk({
    idleCloseMs: 300, autoAccept: true,
    canned: { t1: [{ id: 'hi', title: 'Greeting', body: 'Hello! How can I help?' }], t2: [{ id: 'x', title: 'Other', body: 'other tenant' }] },
  });
  const clients: Client[] = [];
  try {
    const [a1] = await agents(rig, 't1:a1:agent');
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(a1!, v);
    const conv = await v.open();
    await v.event('desk.assigned');
    const canned = await a1!.cmd('desk.canned');
    assert.deepEqual(canned, { ok: true, data: { replies: [{ id: 'hi', title: 'Greeting', body: 'Hello! How can I help?' }] } });
    const visitorCanned = await v.cmd('desk.canned');
    assert.equal(visitorCanned.ok ? null : visitorCanned.code, 'KEFU_ERR_FORBIDDEN');
    const visitorQueue = await v.cmd('desk.queue');
    assert.equal(visitorQueue.ok ? null : visitorQueue.code, 'KEFU_ERR_FORBIDDEN');
    const closed = await v.event('desk.closed', () => true, 3000);
    assert.deepEqual(closed, { conv, by: 'idle', reason: 'idle timeout', canRate: true });
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});

test('offline messages: a chat left while nobody is online reaches the first agent who comes, with the transcript', async () => {
  const rig = await startDesk();
  const clients: Client[] = [];
  try {
    const v = await Client.connect(rig.url, 't1:v1:visitor');
    clients.push(v);
    const conv = await v.open();
    const off = await v.event<{ message: string }>('desk.offline');
    assert.match(off.message, /No agent is online/);
    v.say(conv, 'please call me back about order 42');
    await until(() => rig.desk.conversation(conv)!.transcript.length === 1, 'transcript');
    await v.close();
    const [a1] = await agents(rig, 't1:a1:agent');
    clients.push(a1!);
    const o = await a1!.event<{ transcript: Array<{ body: string }> }>('desk.offer');
    assert.deepEqual(o.transcript.map((l) => l.body), ['please call me back about order 42']);
    assert.equal(rig.desk.conversation(conv)!.offline, true);
  } finally {
    await closeAll(...clients);
    await rig.close();
  }
});
