import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Desk } from '../../src/desk/desk.js';
import { defaultPriority } from '../../src/desk/options.js';
import { skills } from '../../src/desk/strategies.js';

test('impossible options throw TypeError / RangeError with exact messages', () => {
  const cases: Array<[object, string, string]> = [
    [{ botThreshold: 1.5 }, 'RangeError', 'botThreshold must be a number from 0 to 1'],
    [{ defaultCapacity: 0 }, 'RangeError', 'defaultCapacity must be an integer >= 1'],
    [{ offerTimeoutMs: 0 }, 'RangeError', 'offerTimeoutMs must be an integer >= 1'],
    [{ agentGraceMs: -1 }, 'RangeError', 'agentGraceMs must be an integer >= 0'],
    [{ maxWaiting: 0 }, 'RangeError', 'maxWaiting must be an integer >= 1'],
    [{ maxWaiting: 10, maxConversations: 5 }, 'RangeError', 'maxWaiting must not exceed maxConversations'],
    [{ sweepMs: 5 }, 'RangeError', 'sweepMs must be an integer >= 10'],
    [{ maxTranscript: 1.5 }, 'RangeError', 'maxTranscript must be an integer >= 0'],
    [{ autoAccept: true, offerTimeoutMs: 1000 }, 'TypeError', 'offerTimeoutMs has no meaning with autoAccept: true (no offers are made)'],
    [{ humanWords: ['human', ' '] }, 'TypeError', 'humanWords must be an array of non-empty strings'],
    [{ priority: 3 }, 'TypeError', 'priority must be a function'],
    [{ strategy: {} }, 'TypeError', 'strategy must have a pick() method'],
    [{ agingRate: -1 }, 'RangeError', 'agingRate must be a finite number >= 0'],
    [{ agingRate: Number.POSITIVE_INFINITY }, 'RangeError', 'agingRate must be a finite number >= 0'],
    [{ maxStickyPerTenant: 0 }, 'RangeError', 'maxStickyPerTenant must be an integer >= 1'],
    [{ queueIdleCloseMs: -1 }, 'RangeError', 'queueIdleCloseMs must be an integer >= 0'],
    [{ queueStore: {} }, 'TypeError', 'queueStore must be a function (tenant) => QueueStore'],
  ];
  for (const [o, name, message] of cases) assert.throws(() => new Desk(o as never), { name, message }, JSON.stringify(o));
  assert.throws(() => skills({ teams: {}, fallback: 'never' as never }), { name: 'TypeError', message: 'skills: fallback must be "wait" or "any"' });
});

test('defaults are merged by spreading; undefined does not erase a default', () => {
  const d = new Desk({ offerTimeoutMs: undefined, defaultCapacity: 5 });
  assert.equal(d.options.offerTimeoutMs, 20_000);
  assert.equal(d.options.defaultCapacity, 5);
  assert.equal(d.options.botThreshold, 0.7);
  assert.deepEqual(d.options.humanWords, ['human', 'agent', '人工', '转人工']);
});

test('default priority is the VIP level, top level or inside a profile source, clamped to 0..9', () => {
  assert.equal(defaultPriority({}), 0);
  assert.equal(defaultPriority({ vip: true }), 1);
  assert.equal(defaultPriority({ vip: 3 }), 3);
  assert.equal(defaultPriority({ vip: 42 }), 9);
  assert.equal(defaultPriority({ vip: -2 }), 0);
  assert.equal(defaultPriority({ crm: { name: 'x' }, membership: { vip: 2 } }), 2);
  assert.equal(defaultPriority({ vip: 'gold' }), 0);
});

test('methods before open() fail with KEFU_ERR_NOT_OPEN, after close() with KEFU_ERR_CLOSED', async () => {
  const d = new Desk();
  await assert.rejects(d.startConversation({ id: 'c', tenant: 't', visitor: { id: 'v', role: 'visitor' } }), { code: 'KEFU_ERR_NOT_OPEN' });
  await d.open();
  await d.close();
  await assert.rejects(d.startConversation({ id: 'c', tenant: 't', visitor: { id: 'v', role: 'visitor' } }), { code: 'KEFU_ERR_CLOSED' });
  await assert.rejects(d.open(), { code: 'KEFU_ERR_CLOSED' });
});
