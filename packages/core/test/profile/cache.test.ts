import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crmRecord } from '@kefu/mock-backends';
import { ProfileAggregator } from '../../src/profile/index.js';
import { ProfileCache } from '../../src/profile/profile-cache.js';
import { fixture, sleep, until } from './helpers.js';

test('ProfileCache: fresh, then stale, then gone; bounded by max', () => {
  let now = 0;
  const c = new ProfileCache(2, 100, 50, () => now);
  c.set('a', 1);
  assert.equal(c.lookup('a').kind, 'fresh');
  now = 100;
  assert.equal(c.lookup('a').kind, 'stale');
  now = 150;
  assert.equal(c.lookup('a').kind, 'miss');
  assert.equal(c.size, 0);
  c.set('a', 1);
  c.set('b', 2);
  c.set('c', 3);
  assert.equal(c.size, 2);
  assert.equal(c.lookup('a').kind, 'miss', 'least recently used went first');
});

test('ProfileCache: ages stay right for a cache older than 2^31 ms (the small-integer birth time never wraps)', () => {
  let now = 1_700_000_000_000;
  const c = new ProfileCache(4, 100, 50, () => now);
  for (const elapsed of [5, 2 ** 30 + 7, 2 ** 31 + 9, 2 ** 33]) {
    now = 1_700_000_000_000 + elapsed;
    c.set('a', elapsed);
    now += 30;
    const hit = c.lookup('a');
    assert.equal(hit.kind, 'fresh', `after ${elapsed} ms`);
    if (hit.kind === 'fresh') assert.equal(c.ageMs(hit.entry), 30);
    now += 100;
    assert.equal(c.lookup('a').kind, 'stale', `after ${elapsed} ms`);
  }
});

test('a cached profile is served without calls until its TTL ends', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders], cache: { ttlMs: 200, staleMs: 0 } });
  try {
    const a = await agg.get('c1');
    assert.equal(a.sources.crm.status, 'ok');
    const b = await agg.get('c1');
    assert.equal(b.sources.crm.status, 'cached');
    assert.equal(b.complete, true);
    assert.deepEqual(b.data.crm, crmRecord('c1'));
    assert.equal(f.backends.crm.lookupsOf('c1'), 1);
    await sleep(250);
    const c = await agg.get('c1');
    assert.equal(c.sources.crm.status, 'ok', 'expired entry was served');
    assert.equal(f.backends.crm.lookupsOf('c1'), 2);
    assert.equal(agg.stats().crm?.cacheHits, 1);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('stale-while-revalidate: a stale value is served at once and refreshed in the background, once', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm], cache: { ttlMs: 100, staleMs: 20_000 }, timeoutMs: 5000 });
  try {
    await agg.get('s1');
    await sleep(150);
    f.backends.crm.configure({ latencyMs: 1500 });
    const burst = await Promise.all(Array.from({ length: 10 }, () => agg.get('s1')));
    // Served before the refresh answered: the refresh call is still in flight.
    assert.equal(agg.stats().crm?.active, 1, 'a stale read waited for the refresh');
    for (const p of burst) {
      assert.equal(p.sources.crm.status, 'stale');
      assert.ok((p.sources.crm.ageMs ?? 0) >= 100);
      assert.equal(p.complete, false);
      assert.deepEqual(p.data.crm, crmRecord('s1'));
    }
    // Wait for the aggregator to have stored the answer (ok counts it in the same turn as the cache
    // write); the back end's own in-flight count drops before the client has read the response.
    assert.ok(await until(() => agg.stats().crm?.ok === 2, 8000), 'the background refresh never answered');
    assert.equal(f.backends.crm.lookupsOf('s1'), 2, 'the burst made more than one refresh');
    // The refresh replaced the entry: it is younger than what the burst saw.
    const after = await agg.get('s1');
    assert.ok((after.sources.crm.ageMs ?? Infinity) < (burst[0]!.sources.crm.ageMs ?? 0), 'the entry was not refreshed');
    assert.equal(agg.stats().crm?.staleHits, 10);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a stale value keeps being served while the source is down, and a required source is then not fatal', async () => {
  const f = await fixture({ crm: { required: true } });
  const agg = new ProfileAggregator({ sources: [f.crm], cache: { ttlMs: 50, staleMs: 5000 }, retry: { retries: 0 } });
  try {
    await agg.get('d1');
    await sleep(80);
    f.backends.crm.configure({ errorRate: 1 });
    const p = await agg.get('d1');
    assert.equal(p.sources.crm.status, 'stale');
    assert.deepEqual(p.data.crm, crmRecord('d1'));
    assert.ok(await until(() => agg.stats().crm?.errors === 1), 'the background refresh did not run');
    assert.equal((await agg.get('d1')).sources.crm.status, 'stale');
  } finally {
    await agg.close();
    await f.close();
  }
});

test('fresh: true bypasses the cache; invalidate() drops an entry; failures are not cached', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm], retry: { retries: 0 } });
  try {
    await agg.get('i1');
    assert.equal((await agg.get('i1', { fresh: true })).sources.crm.status, 'ok');
    assert.equal(f.backends.crm.lookupsOf('i1'), 2);
    agg.invalidate('i1');
    assert.equal((await agg.get('i1')).sources.crm.status, 'ok');
    assert.equal(f.backends.crm.lookupsOf('i1'), 3);
    await agg.get('error-1');
    await agg.get('error-1');
    assert.equal(f.backends.crm.lookupsOf('error-1'), 2);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a source with ttlMs 0 is never cached while the others are', async () => {
  const f = await fixture({ orders: { ttlMs: 0 } });
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders] });
  try {
    await agg.get('t1');
    const p = await agg.get('t1');
    assert.equal(p.sources.crm.status, 'cached');
    assert.equal(p.sources.orders.status, 'ok');
  } finally {
    await agg.close();
    await f.close();
  }
});
