/**
 * Conformance suite of ConversationStore. Every implementation (memory, LevelDB, Redis,
 * third-party) runs it: `conversationStoreSuite({ test, describe }, { name, factory })` with
 * node:test's functions. `factory` returns a fresh, empty store; `reopen` (persistent stores)
 * closes nothing itself: it gets a closed store and returns a new one over the same data.
 */
import assert from 'node:assert/strict';
import type { ConversationStore } from '../conversation/conversation-store.js';
import type { Sender } from '@kefu/protocol';

import type { SuiteTestApi } from './suite-api.js';
export type { SuiteTestApi };

export interface ConversationStoreSuiteOptions {
  name: string;
  /** A fresh, empty store (not opened: the suite checks the deferred open too). */
  factory: () => ConversationStore | Promise<ConversationStore>;
  /** For persistent stores: a new store over the same data as `closed` (which the suite closed). */
  reopen?: (closed: ConversationStore) => ConversationStore | Promise<ConversationStore>;
  /** Called after each test with the store it used (remove temp dirs, flush keys...). */
  cleanup?: (store: ConversationStore) => void | Promise<void>;
}

const visitor: Sender = { id: 'v1', role: 'visitor', name: 'Ann' };
const agent: Sender = { id: 'a1', role: 'agent' };

export function conversationStoreSuite(api: SuiteTestApi, options: ConversationStoreSuiteOptions): void {
  const { describe, test } = api;
  const withStore = (fn: (s: ConversationStore) => Promise<void>) => async () => {
    const s = await options.factory();
    let current = s;
    try {
      await fn(s);
    } finally {
      await current.close().catch(() => undefined);
      await options.cleanup?.(current);
    }
    void current;
  };
  const run = (name: string, fn: (s: ConversationStore) => Promise<void>): unknown => test(name, withStore(fn));

  describe(`ConversationStore conformance: ${options.name}`, () => {
    run('opens on first use (deferred open) and reports its status', async (s) => {
      assert.equal(s.status, 'new');
      const c = await s.createConversation({ tenant: 't1', visitor });
      assert.equal(s.status, 'open');
      assert.equal(typeof c.id, 'string');
      assert.equal(typeof s.supports.persistent, 'boolean');
      assert.equal(typeof s.supports.shared, 'boolean');
    });

    run('creates and reads a conversation; the visitor is its first member', async (s) => {
      const c = await s.createConversation({ id: 'conv-1', tenant: 't1', visitor, data: { page: '/help' } });
      assert.equal(c.id, 'conv-1');
      const got = await s.getConversation('conv-1');
      assert.deepEqual(got, c);
      assert.deepEqual(got?.data, { page: '/help' });
      assert.equal(got?.tenant, 't1');
      assert.deepEqual(await s.members('conv-1'), [{ ...visitor, readSeq: 0 }]);
      assert.equal(await s.getConversation('nope'), undefined);
      await assert.rejects(s.createConversation({ id: 'conv-1', tenant: 't1', visitor }), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
    });

    run('append assigns seq 1, 2, 3... and range reads them back in order', async (s) => {
      const { id } = await s.createConversation({ tenant: 't1', visitor });
      assert.equal(await s.lastSeq(id), 0);
      for (let i = 1; i <= 5; i++) {
        const r = await s.append(id, { cid: `c${i}`, from: visitor, body: `m${i}` });
        assert.equal(r.seq, i);
        assert.equal(r.dup, false);
        assert.ok(r.ts > 0);
      }
      assert.equal(await s.lastSeq(id), 5);
      const all = await s.range(id);
      assert.deepEqual(all.map((m) => [m.seq, m.cid, m.body]), [[1, 'c1', 'm1'], [2, 'c2', 'm2'], [3, 'c3', 'm3'], [4, 'c4', 'm4'], [5, 'c5', 'm5']]);
      assert.deepEqual(all[0]!.from, visitor);
      assert.deepEqual((await s.range(id, { after: 2, limit: 2 })).map((m) => m.seq), [3, 4]);
      assert.deepEqual((await s.range(id, { after: 5 })).length, 0);
      assert.deepEqual((await s.range(id, { after: 99 })).length, 0);
    });

    run('append keeps data and a retried cid returns the original seq/ts with dup, stored once', async (s) => {
      const { id } = await s.createConversation({ tenant: 't1', visitor });
      const a = await s.append(id, { cid: 'x', from: visitor, body: 'hi', data: { k: [1, 2] } });
      const b = await s.append(id, { cid: 'x', from: visitor, body: 'different' });
      assert.deepEqual(b, { seq: a.seq, ts: a.ts, dup: true });
      const msgs = await s.range(id);
      assert.equal(msgs.length, 1);
      assert.equal(msgs[0]!.body, 'hi');
      assert.deepEqual(msgs[0]!.data, { k: [1, 2] });
    });

    run('concurrent appends get unique consecutive seqs and resolve in seq order; racing retries dedupe', async (s) => {
      const { id } = await s.createConversation({ tenant: 't1', visitor });
      const order: number[] = [];
      const ps = Array.from({ length: 60 }, (_, i) => s.append(id, { cid: `c${i % 50}`, from: i % 2 ? agent : visitor, body: String(i) }).then((r) => { if (!r.dup) order.push(r.seq); return r; }));
      const rs = await Promise.all(ps);
      const fresh = rs.filter((r) => !r.dup).map((r) => r.seq).sort((x, y) => x - y);
      assert.deepEqual(fresh, Array.from({ length: 50 }, (_, i) => i + 1));
      assert.deepEqual(order, fresh, 'appends resolve in seq order');
      for (let i = 50; i < 60; i++) assert.equal(rs[i]!.seq, rs[i - 50]!.seq);
      assert.equal((await s.range(id, { limit: 1000 })).length, 50);
    });

    run('seqs are per conversation', async (s) => {
      const a = await s.createConversation({ tenant: 't1', visitor });
      const b = await s.createConversation({ tenant: 't1', visitor });
      await s.append(a.id, { cid: '1', from: visitor, body: 'a' });
      await s.append(a.id, { cid: '2', from: visitor, body: 'a' });
      assert.equal((await s.append(b.id, { cid: '1', from: visitor, body: 'b' })).seq, 1);
      assert.equal(await s.lastSeq(a.id), 2);
      // an id that is a prefix of another must not see its messages
      const p = await s.createConversation({ id: 'ab', tenant: 't1', visitor });
      const q = await s.createConversation({ id: 'ab!x', tenant: 't1', visitor });
      await s.append(q.id, { cid: '1', from: visitor, body: 'q' });
      assert.equal(await s.lastSeq(p.id), 0);
      assert.deepEqual(await s.range(p.id), []);
    });

    run('unknown conversations reject with KEFU_ERR_CONVERSATION_NOT_FOUND', async (s) => {
      const calls = [
        () => s.append('missing', { cid: 'c', from: visitor, body: 'x' }), () => s.range('missing'), () => s.lastSeq('missing'),
        () => s.addMember('missing', agent), () => s.members('missing'), () => s.closeConversation('missing'),
      ];
      for (const call of calls) await assert.rejects(call(), { code: 'KEFU_ERR_CONVERSATION_NOT_FOUND' });
    });

    run('a closed conversation refuses new appends but still answers retries and reads', async (s) => {
      const { id } = await s.createConversation({ tenant: 't1', visitor });
      const first = await s.append(id, { cid: 'c1', from: visitor, body: 'x' });
      const closed = await s.closeConversation(id, 'resolved');
      assert.equal(closed.closed, true);
      assert.equal(closed.closedReason, 'resolved');
      assert.equal((await s.getConversation(id))?.closed, true);
      await assert.rejects(s.append(id, { cid: 'c2', from: visitor, body: 'y' }), { code: 'KEFU_ERR_CONVERSATION_CLOSED' });
      assert.deepEqual(await s.append(id, { cid: 'c1', from: visitor, body: 'x' }), { seq: first.seq, ts: first.ts, dup: true });
      assert.equal((await s.range(id)).length, 1);
    });

    run('members: add (idempotent), remove, isMember, read marks only move forward and stop at the last seq', async (s) => {
      const { id } = await s.createConversation({ tenant: 't1', visitor });
      assert.deepEqual(await s.addMember(id, agent), { added: true, member: { ...agent, readSeq: 0 } });
      assert.equal((await s.addMember(id, agent)).added, false);
      assert.equal(await s.isMember(id, 'a1'), true);
      for (let i = 1; i <= 3; i++) await s.append(id, { cid: `c${i}`, from: visitor, body: 'x' });
      assert.equal(await s.markRead(id, 'a1', 2), 2);
      assert.equal(await s.markRead(id, 'a1', 1), 2);
      assert.equal(await s.markRead(id, 'a1', 50), 3);
      assert.equal((await s.members(id)).find((m) => m.id === 'a1')?.readSeq, 3);
      await assert.rejects(s.markRead(id, 'stranger', 1), { code: 'KEFU_ERR_NOT_MEMBER' });
      assert.equal(await s.removeMember(id, 'a1'), true);
      assert.equal(await s.removeMember(id, 'a1'), false);
      assert.equal(await s.isMember(id, 'a1'), false);
      assert.deepEqual((await s.members(id)).map((m) => m.id), ['v1']);
    });

    run('invalid arguments reject with KEFU_ERR_INVALID_ARGUMENT and change nothing', async (s) => {
      const { id } = await s.createConversation({ tenant: 't1', visitor });
      const bad: Array<() => Promise<unknown>> = [
        () => s.createConversation({ tenant: '', visitor }),
        () => s.createConversation({ tenant: 't1', visitor: { id: 'x', role: 'king' as 'agent' } }),
        () => s.createConversation({ id: 'has space', tenant: 't1', visitor }),
        () => s.append(id, { cid: '', from: visitor, body: 'x' }),
        () => s.append(id, { cid: 'c', from: visitor, body: 5 as unknown as string }),
        () => s.append(id, { cid: 'c', from: { id: '', role: 'visitor' }, body: 'x' }),
        () => s.range(id, { after: -1 }),
        () => s.range(id, { limit: 0 }),
        () => s.range(id, { limit: 1001 }),
        () => s.range(id, { after: 1.5 }),
        () => s.markRead(id, 'v1', -3),
        () => s.getConversation('x'.repeat(129)),
      ];
      for (const call of bad) await assert.rejects(call(), { code: 'KEFU_ERR_INVALID_ARGUMENT' });
      assert.equal(await s.lastSeq(id), 0);
    });

    run('a closed store rejects with KEFU_ERR_CLOSED', async (s) => {
      await s.open();
      await s.close();
      assert.equal(s.status, 'closed');
      await assert.rejects(s.createConversation({ tenant: 't1', visitor }), { code: 'KEFU_ERR_CLOSED' });
      await s.close();
    });

    if (options.reopen) {
      const reopen = options.reopen;
      test('persistent: conversations, messages, cid index, members and closed state survive a reopen', async () => {
        const s = await options.factory();
        let s2: ConversationStore | undefined;
        try {
          const { id } = await s.createConversation({ tenant: 't1', visitor });
          const other = await s.createConversation({ tenant: 't1', visitor });
          for (let i = 1; i <= 3; i++) await s.append(id, { cid: `c${i}`, from: visitor, body: `m${i}` });
          await s.addMember(id, agent);
          await s.markRead(id, 'a1', 2);
          await s.closeConversation(other.id);
          await s.close();
          s2 = await reopen(s);
          assert.equal(await s2.lastSeq(id), 3);
          assert.deepEqual((await s2.append(id, { cid: 'c2', from: visitor, body: 'again' })), { ...(await s2.range(id, { after: 1, limit: 1 })).map((m) => ({ seq: m.seq, ts: m.ts }))[0]!, dup: true });
          assert.equal((await s2.append(id, { cid: 'c4', from: visitor, body: 'm4' })).seq, 4);
          assert.equal((await s2.members(id)).find((m) => m.id === 'a1')?.readSeq, 2);
          await assert.rejects(s2.append(other.id, { cid: 'z', from: visitor, body: 'z' }), { code: 'KEFU_ERR_CONVERSATION_CLOSED' });
        } finally {
          await s.close().catch(() => undefined);
          await s2?.close().catch(() => undefined);
          await options.cleanup?.(s2 ?? s);
        }
      });
    }
  });
}
