/**
 * Conformance suite of DeskStore. Every implementation (memory, LevelDB, Redis, a third
 * party's) runs it: `deskStoreSuite({ test, describe }, { name, factory, reopen?, cleanup? })`
 * with node:test's functions. `factory` returns a fresh, empty, unopened store; `reopen`
 * (persistent stores) gets a closed store and returns a new one over the same data.
 */
import assert from 'node:assert/strict';
import type { SuiteTestApi } from '../../testing/suite-api.js';
import type { DeskStore } from '../store/desk-store.js';
import type { DeskConversation } from '../types.js';

export interface DeskStoreSuiteOptions {
  name: string;
  factory: () => DeskStore | Promise<DeskStore>;
  reopen?: (closed: DeskStore) => DeskStore | Promise<DeskStore>;
  cleanup?: (store: DeskStore) => void | Promise<void>;
}

/** A valid conversation record for store tests. */
export function sampleDeskConversation(over: Partial<DeskConversation> = {}): DeskConversation {
  return {
    id: 'c1', tenant: 't1', visitor: { id: 'v1', role: 'visitor', name: 'Ann' }, state: 'waiting', priority: 1, order: 7,
    createdAt: 1_000, queuedAt: 1_001, assignedAt: null, closedAt: null, lastActivityAt: 1_002,
    intent: { name: 'balance', confidence: 0.9 }, handoff: 'low_confidence', queueReason: 'new', team: null, agentId: null,
    lastAgentId: null, offer: null, declined: [], transcript: [{ from: { id: 'v1', role: 'visitor' }, body: '你好', ts: 1_000 }],
    profile: { vip: 1 }, botAnswers: 0, offline: false, closedBy: null, closeReason: null, rating: null,
    ...over,
  };
}

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

export function deskStoreSuite(api: SuiteTestApi, options: DeskStoreSuiteOptions): void {
  const { describe, test } = api;
  const run = (name: string, fn: (s: DeskStore, swap: (n: DeskStore) => void) => Promise<void>) =>
    test(name, async () => {
      let store = await options.factory();
      try {
        await fn(store, (n) => { store = n; });
      } finally {
        await store.close().catch(() => undefined);
        await options.cleanup?.(store);
      }
    });

  describe(`DeskStore conformance: ${options.name}`, () => {
    run('refuses use before open with KEFU_ERR_NOT_OPEN and after close with KEFU_ERR_CLOSED', async (s) => {
      await assert.rejects(s.loadActive(), { code: 'KEFU_ERR_NOT_OPEN' });
      await s.open();
      await s.close();
      await assert.rejects(s.write([{ type: 'conversation', value: sampleDeskConversation() }]), { code: 'KEFU_ERR_CLOSED' });
      await assert.rejects(s.open(), { code: 'KEFU_ERR_CLOSED' });
    });

    run('writes and loads open conversations; the last write of a record wins', async (s) => {
      await s.open();
      await s.write([{ type: 'conversation', value: sampleDeskConversation() }, { type: 'conversation', value: sampleDeskConversation({ id: 'c2', order: 8 }) }]);
      await s.write([{ type: 'conversation', value: sampleDeskConversation({ state: 'assigned', agentId: 'a1' }) }]);
      const all = (await s.loadActive()).sort(byId);
      assert.deepEqual(all, [sampleDeskConversation({ state: 'assigned', agentId: 'a1' }), sampleDeskConversation({ id: 'c2', order: 8 })]);
      assert.deepEqual(await s.get('t1', 'c2'), sampleDeskConversation({ id: 'c2', order: 8 }));
      assert.equal(await s.get('t1', 'nope'), undefined);
    });

    run('a closed conversation leaves loadActive; with supports.history get() still returns it', async (s) => {
      await s.open();
      await s.write([{ type: 'conversation', value: sampleDeskConversation() }]);
      const closed = sampleDeskConversation({ state: 'closed', closedAt: 2_000, closedBy: 'agent', rating: { score: 5, comment: null, at: 2_001 } });
      await s.write([{ type: 'conversation', value: closed }]);
      assert.deepEqual(await s.loadActive(), []);
      if (s.supports.history) assert.deepEqual(await s.get('t1', 'c1'), closed);
    });

    run('tenants are separate key spaces', async (s) => {
      await s.open();
      await s.write([{ type: 'conversation', value: sampleDeskConversation({ tenant: 't2', order: 1 }) }, { type: 'conversation', value: sampleDeskConversation() }]);
      assert.equal((await s.get('t2', 'c1'))?.order, 1);
      assert.equal((await s.get('t1', 'c1'))?.order, 7);
      assert.equal((await s.loadActive()).length, 2);
    });

    run('agent settings are written, replaced and deleted', async (s) => {
      await s.open();
      await s.write([{ type: 'agent', tenant: 't1', id: 'a1', value: { capacity: 2, teams: ['sales'] } }]);
      await s.write([{ type: 'agent', tenant: 't1', id: 'a2', value: { capacity: 1 } }, { type: 'agent', tenant: 't1', id: 'a1', value: { capacity: 4 } }]);
      assert.deepEqual((await s.loadAgents()).sort(byId), [{ tenant: 't1', id: 'a1', settings: { capacity: 4 } }, { tenant: 't1', id: 'a2', settings: { capacity: 1 } }]);
      await s.write([{ type: 'delete-agent', tenant: 't1', id: 'a2' }]);
      assert.deepEqual((await s.loadAgents()).map((a) => a.id), ['a1']);
    });

    run('sticky memory: last-agent pairs are written, replaced, deleted, per tenant', async (s) => {
      await s.open();
      await s.write([
        { type: 'last-agent', tenant: 't1', visitor: 'v1', agent: 'a1', at: 10 },
        { type: 'last-agent', tenant: 't2', visitor: 'v1', agent: 'b1', at: 11 },
        { type: 'last-agent', tenant: 't1', visitor: 'v2', agent: 'a2', at: 12 },
      ]);
      await s.write([{ type: 'last-agent', tenant: 't1', visitor: 'v1', agent: 'a3', at: 13 }, { type: 'delete-last-agent', tenant: 't1', visitor: 'v2' }]);
      const rows = (await s.loadLastAgents()).sort((a, b) => a.at - b.at);
      assert.deepEqual(rows, [{ tenant: 't2', visitor: 'v1', agent: 'b1', at: 11 }, { tenant: 't1', visitor: 'v1', agent: 'a3', at: 13 }]);
    });

    run('queueStore(tenant) gives a working, empty QueueStore per tenant after open', async (s) => {
      assert.throws(() => s.queueStore('t1'), { code: 'KEFU_ERR_NOT_OPEN' });
      await s.open();
      assert.throws(() => s.queueStore(''), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
      const q1 = s.queueStore('t1');
      const q2 = s.queueStore('t!2');
      await q1.open();
      await q2.open();
      try {
        await q1.push([{ id: 'c1', payload: { visitor: 'v1' }, priority: 0, orderKey: 0, enqueuedAt: 1, availableAt: 1, maxAttempts: 5 }]);
        assert.equal(await q1.position('c1'), 1);
        assert.equal(await q2.position('c1'), undefined, 'tenants have separate queues');
      } finally {
        await q1.close();
        await q2.close();
      }
    });

    run('rejects invalid ops with KEFU_ERR_INVALID_ARGUMENT and writes nothing of that call', async (s) => {
      await s.open();
      const bad = [
        [{ type: 'conversation', value: sampleDeskConversation({ id: 'ok' }) }, { type: 'conversation', value: sampleDeskConversation({ id: '' }) }],
        [{ type: 'conversation', value: sampleDeskConversation({ state: 'lost' as never }) }],
        [{ type: 'agent', tenant: 't1', id: 'has space', value: {} }],
        [{ type: 'last-agent', tenant: 't1', visitor: 'v1', agent: '', at: 1 }],
        [{ type: 'last-agent', tenant: 't1', visitor: 'v1', agent: 'a1', at: Number.NaN }],
        [{ type: 'delete-last-agent', tenant: 't1', visitor: 'has space' }],
        [{ type: 'nope' }],
      ];
      for (const ops of bad) await assert.rejects(s.write(ops as never), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
      assert.deepEqual(await s.loadActive(), []);
      assert.deepEqual(await s.loadLastAgents(), []);
      await assert.rejects(s.get('t1', ''), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
    });

    run('the caller cannot change stored state by mutating an object it wrote or read', async (s) => {
      await s.open();
      const c = sampleDeskConversation();
      await s.write([{ type: 'conversation', value: c }]);
      c.order = 99;
      const [read] = await s.loadActive();
      read!.priority = 42;
      assert.deepEqual(await s.get('t1', 'c1'), sampleDeskConversation());
    });

    if (options.reopen) {
      const reopen = options.reopen;
      run('persistent: everything survives close and reopen', async (s, swap) => {
        assert.equal(s.supports.persistent, true);
        await s.open();
        await s.write([
          { type: 'conversation', value: sampleDeskConversation() },
          { type: 'conversation', value: sampleDeskConversation({ id: 'c2', state: 'closed' }) },
          { type: 'agent', tenant: 't1', id: 'a1', value: { capacity: 2 } },
          { type: 'last-agent', tenant: 't1', visitor: 'v1', agent: 'a1', at: 5 },
        ]);
        const q = s.queueStore('t1');
        await q.open();
        await q.push([{ id: 'c1', payload: { visitor: 'v1' }, priority: 0, orderKey: 0, enqueuedAt: 1, availableAt: 1, maxAttempts: 5 }]);
        await q.close();
        await s.close();
        const s2 = await reopen(s);
        swap(s2);
        await s2.open();
        assert.deepEqual(await s2.loadActive(), [sampleDeskConversation()]);
        assert.equal((await s2.get('t1', 'c2'))?.state, 'closed');
        assert.deepEqual(await s2.loadAgents(), [{ tenant: 't1', id: 'a1', settings: { capacity: 2 } }]);
        assert.deepEqual(await s2.loadLastAgents(), [{ tenant: 't1', visitor: 'v1', agent: 'a1', at: 5 }]);
        const q2 = s2.queueStore('t1');
        await q2.open();
        try {
          assert.equal(await q2.position('c1'), 1, 'the queue persists with the store');
        } finally {
          await q2.close();
        }
      });
    }
  });
}
