import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileAggregator, type ProfileSource } from '../../src/profile/index.js';
import { RetryBudget } from '../../src/profile/retry-budget.js';
import { fixture } from './helpers.js';

test('RetryBudget: each call earns ratio tokens, a retry spends one; time earns minPerSec', () => {
  let now = 0;
  const b = new RetryBudget(0.5, 0, () => now);
  let granted = 0;
  for (let i = 0; i < 10; i++) {
    b.deposit();
    if (b.tryWithdraw()) granted++;
  }
  assert.equal(granted, 5);
  const t = new RetryBudget(0, 2, () => now);
  assert.equal(t.tryWithdraw(), true);
  assert.equal(t.tryWithdraw(), true);
  assert.equal(t.tryWithdraw(), false);
  now += 500;
  assert.equal(t.tryWithdraw(), true);
  assert.equal(t.tryWithdraw(), false);
});

test('an idempotent source is retried after a 5xx and the retry succeeds', async () => {
  let n = 0;
  const flaky: ProfileSource<'flaky', string> = {
    name: 'flaky',
    idempotent: true,
    fetch: async (uid) => {
      if (n++ === 0) throw new Error('first call fails');
      return uid;
    },
  };
  const agg = new ProfileAggregator({ sources: [flaky], retry: { retries: 2, delayMs: 1 } });
  const retries: number[] = [];
  agg.on('retry', (e) => retries.push(e.attempt));
  const p = await agg.get('r1');
  assert.equal(p.sources.flaky.status, 'ok');
  assert.equal(p.data.flaky, 'r1');
  assert.deepEqual(retries, [1]);
  assert.equal(agg.stats().flaky?.calls, 2);
  await agg.close();
});

test('HTTP: 500s are retried within the budget, 4xx and bad bodies never; non-idempotent sources never', async () => {
  const f = await fixture({ orders: { idempotent: false } });
  const born = Date.now();
  const agg = new ProfileAggregator({
    sources: [f.crm, f.orders],
    cache: false,
    retry: { retries: 3, delayMs: 1, budgetRatio: 0, budgetMinPerSec: 2 },
    breaker: { failureThreshold: 1000 },
  });
  try {
    await agg.get('error-1');
    // A budget of 2 tokens: two retries, then none; except that time earns 2 tokens a second, so
    // on a machine slow enough for the calls to take half a second one more retry is earned.
    const earned = Math.floor(((Date.now() - born) / 1000) * 2);
    const crmCalls = f.backends.crm.lookupsOf('error-1');
    assert.ok(crmCalls >= 3 && crmCalls <= 3 + earned, `${crmCalls} calls with ${earned} tokens earned over time`);
    assert.equal(f.backends.orders.lookupsOf('error-1'), 1, 'a non-idempotent source was retried');
    await agg.get('invalid-1');
    assert.equal(f.backends.crm.lookupsOf('invalid-1'), 1, 'a non-JSON body was retried');
    assert.equal(agg.stats().crm?.retries, crmCalls - 1);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('retries stop at the timeout', async () => {
  let calls = 0;
  const failing: ProfileSource<'f', string> = {
    name: 'f',
    idempotent: true,
    timeoutMs: 100,
    fetch: async () => {
      calls++;
      throw new Error('down');
    },
  };
  const agg = new ProfileAggregator({ sources: [failing], retry: { retries: 1000, delayMs: 30, budgetMinPerSec: 1000 } });
  const p = await agg.get('u');
  assert.equal(p.sources.f.status, 'timeout');
  assert.ok(calls <= 5, `${calls} calls in 100 ms with 30 ms pauses`);
  await agg.close();
});
