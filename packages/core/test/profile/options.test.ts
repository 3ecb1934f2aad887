import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ProfileAggregator, type ProfileSource } from '../../src/profile/index.js';

const src = (name: string, extra: Partial<ProfileSource<string, number>> = {}): ProfileSource<string, number> => ({ name, fetch: async () => 1, ...extra });

test('impossible options throw TypeError or RangeError with exact messages', () => {
  const cases: Array<[() => unknown, string, string]> = [
    [() => new ProfileAggregator({ sources: [] }), 'TypeError', 'options.sources must be a non-empty array of profile sources'],
    [() => new ProfileAggregator({ sources: [src('a'), src('a')] }), 'TypeError', 'duplicate source name "a"'],
    [() => new ProfileAggregator({ sources: [{ name: '', fetch: async () => 1 }] }), 'TypeError', 'every source needs a non-empty name and a fetch function'],
    [() => new ProfileAggregator({ sources: [src('a')], concurrency: 0 }), 'RangeError', 'concurrency must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a')], sourceConcurrency: 1.5 }), 'RangeError', 'sourceConcurrency must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a')], maxQueue: -1 }), 'RangeError', 'maxQueue must be an integer >= 0'],
    [() => new ProfileAggregator({ sources: [src('a')], timeoutMs: 0 }), 'RangeError', 'timeoutMs must be a finite number > 0'],
    [() => new ProfileAggregator({ sources: [src('a')], cache: { max: 0 } }), 'RangeError', 'cache.max must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a')], cache: { ttlMs: -1 } }), 'RangeError', 'cache.ttlMs must be a finite number >= 0'],
    [() => new ProfileAggregator({ sources: [src('a')], breaker: { failureThreshold: 0 } }), 'RangeError', 'breaker.failureThreshold must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a')], breaker: { halfOpenProbes: 0 } }), 'RangeError', 'breaker.halfOpenProbes must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a')], retry: { retries: -1 } }), 'RangeError', 'retry.retries must be an integer >= 0'],
    [() => new ProfileAggregator({ sources: [src('a')], batch: { maxSize: 0 } }), 'RangeError', 'batch.maxSize must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a')], batch: { windowMs: Infinity } }), 'RangeError', 'batch.windowMs must be a finite number >= 0'],
    [() => new ProfileAggregator({ sources: [src('a')], uidPattern: /x/g }), 'TypeError', 'uidPattern must not have the g or y flag (test() would keep state)'],
    [() => new ProfileAggregator({ sources: [src('a', { timeoutMs: -5 })] }), 'RangeError', 'source "a": timeoutMs must be a finite number > 0'],
    [() => new ProfileAggregator({ sources: [src('a', { concurrency: 0 })] }), 'RangeError', 'source "a": concurrency must be an integer >= 1'],
    [() => new ProfileAggregator({ sources: [src('a', { batch: { maxSize: 5 } })] }), 'TypeError', 'source "a" sets batch options but has no fetchMany'],
    [() => new ProfileAggregator({ sources: [src('a', { ttlMs: 1000 })], cache: false }), 'TypeError', 'source "a" sets ttlMs but the aggregator cache is off'],
  ];
  for (const [fn, name, message] of cases) assert.throws(fn, { name, message });
});

test('defaults are applied: a zero-config aggregator caches and reports counters', async () => {
  const agg = new ProfileAggregator({ sources: [src('a')] });
  await agg.get('u');
  const p = await agg.get('u');
  assert.equal(p.sources.a?.status, 'cached');
  assert.deepEqual(agg.stats().a, {
    calls: 1, lookups: 1, ok: 1, errors: 0, timeouts: 0, circuitOpen: 0, cacheHits: 1, staleHits: 0, coalesced: 0,
    retries: 0, batches: 0, fallbacks: 0, active: 0, queued: 0, breaker: 'closed',
  });
  await agg.close();
});

test('the cache is bounded by cache.max per source', async () => {
  const agg = new ProfileAggregator({ sources: [src('a')], cache: { max: 3 } });
  for (const u of ['u1', 'u2', 'u3', 'u4']) await agg.get(u);
  assert.equal((await agg.get('u1')).sources.a?.status, 'ok', 'u1 should have been evicted');
  assert.equal((await agg.get('u4')).sources.a?.status, 'cached');
  await agg.close();
});
