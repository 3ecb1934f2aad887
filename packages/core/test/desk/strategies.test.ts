import { test } from 'node:test';
import assert from 'node:assert/strict';
import { leastBusy, roundRobin, skills, sticky } from '../../src/desk/strategies.js';
import { HEAD_PRIORITY, queuePriority } from '../../src/desk/waiting-queues.js';
import { humanRequestMatcher } from '../../src/desk/bot.js';
import { sampleDeskConversation } from '../../src/desk/testing/desk-store-suite.js';
import type { AgentCandidate } from '../../src/desk/types.js';

const agent = (id: string, load: number, capacity = 3, teams: string[] = [], lastAssignedAt = 0): AgentCandidate => ({ id, tenant: 't1', load, capacity, teams, lastAssignedAt });
const conv = sampleDeskConversation();

test('least-busy picks the lowest load relative to capacity, then who waited longest', () => {
  const s = leastBusy();
  assert.equal(s.pick(conv, [agent('a', 2), agent('b', 1), agent('c', 2)]), 'b');
  assert.equal(s.pick(conv, [agent('a', 2, 4), agent('b', 1, 1)]), 'a');
  assert.equal(s.pick(conv, [agent('a', 1, 3, [], 50), agent('b', 1, 3, [], 10)]), 'b');
});

test('round-robin cycles through agents per tenant, skipping those not offered', () => {
  const s = roundRobin();
  const all = [agent('a', 0), agent('b', 0), agent('c', 0)];
  assert.deepEqual([1, 2, 3, 4].map(() => s.pick(conv, all)), ['a', 'b', 'c', 'a']);
  assert.equal(s.pick(conv, [agent('a', 0), agent('c', 0)]), 'c');
  assert.equal(s.pick({ ...conv, tenant: 't2' }, all), 'a', 'each tenant has its own cursor');
});

test('skills routes an intent to its team; fallback "wait" keeps it, "any" gives it to anyone', () => {
  const c = { ...conv, intent: { name: 'refund', confidence: 0.9 } };
  const pool = [agent('a', 0, 3, ['sales']), agent('b', 2, 3, ['billing']), agent('c', 1, 3, ['billing'])];
  assert.equal(skills({ teams: { refund: 'billing' } }).pick(c, pool), 'c');
  assert.equal(skills({ teams: { refund: 'legal' } }).pick(c, pool), undefined);
  assert.equal(skills({ teams: { refund: 'legal' }, fallback: 'any' }).pick(c, pool), 'a');
  assert.equal(skills({ teams: { other: 'billing' } }).pick(c, pool), 'a', 'unmapped intents go to anyone');
});

test('sticky prefers the last agent when they are a candidate', () => {
  const s = sticky();
  const pool = [agent('a', 0), agent('b', 2)];
  assert.equal(s.pick({ ...conv, lastAgentId: 'b' }, pool), 'b');
  assert.equal(s.pick({ ...conv, lastAgentId: 'z' }, pool), 'a');
  assert.equal(s.name, 'sticky(least-busy)');
});

test('queue priority: the VIP level as an integer for new arrivals, the head for requeues and transfers', () => {
  assert.equal(queuePriority({ priority: 2, queueReason: 'new' }), 2);
  assert.equal(queuePriority({ priority: 1.6, queueReason: 'new' }), 2);
  assert.equal(queuePriority({ priority: 5e9, queueReason: 'new' }), HEAD_PRIORITY - 1, 'the head stays reserved');
  assert.equal(queuePriority({ priority: -5e9, queueReason: 'new' }), -1_000_000);
  assert.equal(queuePriority({ priority: 0, queueReason: 'requeue' }), HEAD_PRIORITY);
  assert.equal(queuePriority({ priority: 9, queueReason: 'transfer' }), HEAD_PRIORITY);
});

test('human-request words: whole Latin words in any case, Chinese as substrings', () => {
  const m = humanRequestMatcher(['human', 'agent', '人工', '转人工']);
  for (const t of ['human', 'I want a HUMAN!', 'agent please', '请转人工', '人工服务']) assert.equal(m(t), true, t);
  for (const t of ['humanity', 'reagent', 'agents', 'hello', '工人']) assert.equal(m(t), false, t);
});
