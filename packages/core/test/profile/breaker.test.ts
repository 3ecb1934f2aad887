import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileAggregator } from '../../src/profile/index.js';
import { CircuitBreaker } from '../../src/profile/circuit-breaker.js';
import { fixture, sleep } from './helpers.js';

test('CircuitBreaker: N failures in the window open it; after openMs one probe; success closes, failure reopens', () => {
  let now = 0;
  const moves: string[] = [];
  const b = new CircuitBreaker({ failureThreshold: 3, windowMs: 1000, openMs: 500, halfOpenProbes: 1 }, (f, t) => moves.push(`${f}>${t}`), () => now);
  b.record(false, 0);
  now = 1500; // the first failure leaves the window
  b.record(false, 0);
  b.record(false, 0);
  assert.equal(b.state, 'closed');
  b.record(false, 0);
  assert.equal(b.state, 'open');
  assert.equal(b.acquire(), null);
  now += 499;
  assert.equal(b.acquire(), null);
  now += 1;
  assert.equal(b.acquire(), 'probe');
  assert.equal(b.acquire(), null, 'only one probe at a time');
  b.record(false, 1);
  assert.equal(b.state, 'open');
  now += 500;
  assert.equal(b.acquire(), 'probe');
  b.record(true, 1);
  assert.equal(b.state, 'closed');
  assert.equal(b.acquire(), 'pass');
  assert.deepEqual(moves, ['closed>open', 'open>half-open', 'half-open>open', 'open>half-open', 'half-open>closed']);
});

test('a failing service opens its breaker; calls stop; after openMs a probe closes it again', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({
    sources: [f.crm, f.orders],
    cache: false,
    retry: { retries: 0 },
    breaker: { failureThreshold: 3, windowMs: 10_000, openMs: 300 },
  });
  const moves: string[] = [];
  agg.on('circuit', (e) => moves.push(`${e.source}:${e.from}>${e.to}`));
  try {
    f.backends.crm.configure({ errorRate: 1 });
    for (let i = 0; i < 3; i++) assert.equal((await agg.get(`b${i}`)).sources.crm.status, 'error');
    assert.equal(agg.stats().crm?.breaker, 'open');
    const before = f.backends.crm.stats.requests;
    const p = await agg.get('b-open');
    assert.equal(p.sources.crm.status, 'circuit-open');
    assert.equal(p.sources.crm.error?.code, 'KEFU_ERR_PROFILE_CIRCUIT_OPEN');
    assert.equal(p.sources.orders.status, 'ok', 'other sources are unaffected');
    assert.equal(f.backends.crm.stats.requests, before, 'an open breaker made a call');
    assert.equal(agg.stats().crm?.circuitOpen, 1);

    // Still failing when the probe goes: open again.
    await sleep(350);
    assert.equal((await agg.get('b-probe1')).sources.crm.status, 'error');
    assert.equal(agg.stats().crm?.breaker, 'open');

    // Healthy again: the probe closes it.
    f.backends.crm.configure({ errorRate: 0 });
    await sleep(350);
    assert.equal((await agg.get('b-probe2')).sources.crm.status, 'ok');
    assert.equal(agg.stats().crm?.breaker, 'closed');
    assert.equal((await agg.get('b-after')).sources.crm.status, 'ok');
    assert.deepEqual(moves, ['crm:closed>open', 'crm:open>half-open', 'crm:half-open>open', 'crm:open>half-open', 'crm:half-open>closed']);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('timeouts count as failures for the breaker', async () => {
  const f = await fixture({ crm: { timeoutMs: 50 } });
  const agg = new ProfileAggregator({ sources: [f.crm], cache: false, breaker: { failureThreshold: 2, openMs: 10_000 } });
  try {
    await agg.get('hang-1');
    await agg.get('hang-2');
    assert.equal(agg.stats().crm?.breaker, 'open');
    assert.equal((await agg.get('u1')).sources.crm.status, 'circuit-open');
  } finally {
    await agg.close();
    await f.close();
  }
});
