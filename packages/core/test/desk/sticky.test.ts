/** Sticky routing memory (visitor -> last agent): persisted in the DeskStore, bounded per tenant. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Desk } from '../../src/desk/desk.js';
import { LevelDeskStore } from '../../src/desk/store/level-desk-store.js';
import { sticky, type AssignmentStrategy } from '../../src/desk/strategies.js';
import type { DeskOptions } from '../../src/desk/options.js';
import { until } from './helpers.js';

const visitor = (id: string) => ({ id, role: 'visitor' as const });
const agent = (tenant: string, id: string) => ({ tenant, id, role: 'agent' as const });
/** Assigns only by sticky memory: anything else waits, so an assignment proves the memory. */
const onlySticky = (): AssignmentStrategy => sticky({ name: 'never', pick: () => undefined });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-desk-sticky-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function openDesk(dir: string, o: DeskOptions): Promise<Desk> {
  const desk = new Desk({ store: new LevelDeskStore({ location: dir }), autoAccept: true, positionUpdateMs: 0, ...o });
  await desk.open();
  return desk;
}

async function closeDesk(desk: Desk): Promise<void> {
  await desk.close();
  await desk.store.close();
}

/** Serves one conversation of `visitorId` by `agentId` and closes it. */
async function serve(desk: Desk, tenant: string, convId: string, visitorId: string, agentId: string): Promise<void> {
  await desk.setAgent(tenant, agentId, { capacity: 5 });
  await desk.agentOnline(agent(tenant, agentId));
  await desk.startConversation({ id: convId, tenant, visitor: visitor(visitorId) });
  await until(() => desk.conversation(convId)?.state === 'assigned', `${convId} assigned`);
  assert.equal(desk.conversation(convId)!.agentId, agentId);
  await desk.closeConversation({ tenant, id: visitorId, role: 'visitor' }, convId);
  desk.agentOffline(tenant, agentId);
}

test('sticky memory survives a restart on LevelDB: the returning visitor goes to their last agent', async () => {
  await withDir(async (dir) => {
    const first = await openDesk(dir, {});
    await serve(first, 't1', 'c1', 'v1', 'a2');
    await closeDesk(first);

    const desk = await openDesk(dir, { strategy: onlySticky() });
    try {
      await desk.agentOnline(agent('t1', 'a1'));
      await desk.agentOnline(agent('t1', 'a2'));
      await desk.startConversation({ id: 'c2', tenant: 't1', visitor: visitor('v2') });
      await desk.startConversation({ id: 'c3', tenant: 't1', visitor: visitor('v1') });
      assert.equal(desk.conversation('c3')!.lastAgentId, 'a2', 'remembered across the restart');
      await until(() => desk.conversation('c3')!.state === 'assigned', 'c3 assigned');
      assert.equal(desk.conversation('c3')!.agentId, 'a2');
      assert.equal(desk.conversation('c2')!.state, 'waiting', 'a new visitor has no last agent');
    } finally {
      await closeDesk(desk);
    }
  });
});

test('maxStickyPerTenant: the least recently served visitors are forgotten, in memory and in the store', async () => {
  await withDir(async (dir) => {
    const desk = await openDesk(dir, { maxStickyPerTenant: 2 });
    try {
      await serve(desk, 't1', 'c1', 'v1', 'a1');
      await serve(desk, 't1', 'c2', 'v2', 'a1');
      await serve(desk, 't2', 'c9', 'v1', 'b1');
      await serve(desk, 't1', 'c3', 'v3', 'a1');
      const rows = await desk.store.loadLastAgents();
      assert.deepEqual(rows.filter((r) => r.tenant === 't1').map((r) => r.visitor).sort(), ['v2', 'v3'], 'v1 evicted from t1');
      assert.deepEqual(rows.filter((r) => r.tenant === 't2').map((r) => [r.visitor, r.agent]), [['v1', 'b1']], 'each tenant has its own cap');
      await desk.startConversation({ id: 'c4', tenant: 't1', visitor: visitor('v1') });
      assert.equal(desk.conversation('c4')!.lastAgentId, null);
    } finally {
      await closeDesk(desk);
    }
    // A lower cap at the next start drops the oldest pairs from the store too.
    const smaller = await openDesk(dir, { maxStickyPerTenant: 1 });
    try {
      const rows = await smaller.store.loadLastAgents();
      assert.deepEqual(rows.filter((r) => r.tenant === 't1').map((r) => r.visitor), ['v3']);
    } finally {
      await closeDesk(smaller);
    }
  });
});
