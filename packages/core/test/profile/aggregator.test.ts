import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crmRecord, ordersRecord, membershipRecord } from '@kefu/mock-backends';
import { ProfileAggregator, type ProfileSource } from '../../src/profile/index.js';
import { fixture } from './helpers.js';

test('merges the three sources into one typed profile with per-source status', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  try {
    const p = await agg.get('u-42');
    assert.equal(p.uid, 'u-42');
    assert.deepEqual(p.data.crm, crmRecord('u-42'));
    assert.deepEqual(p.data.orders, ordersRecord('u-42'));
    assert.deepEqual(p.data.membership, membershipRecord('u-42'));
    // Typed: the membership's VIP level is a number without casts.
    const vip: number | undefined = p.data.membership?.vip;
    assert.equal(typeof vip, 'number');
    assert.equal(p.complete, true);
    assert.deepEqual([p.sources.crm.status, p.sources.orders.status, p.sources.membership.status], ['ok', 'ok', 'ok']);
    assert.deepEqual(agg.sourceNames, ['crm', 'orders', 'membership']);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('sources are called in parallel: total time is about the slowest source, not the sum', async () => {
  const f = await fixture({ each: { crm: { latencyMs: 200 }, orders: { latencyMs: 250 }, membership: { latencyMs: 300 } } });
  // Count calls in flight across all three sources: 3 at once proves they overlap.
  let inFlight = 0;
  let maxInFlight = 0;
  const track = <N extends string, T>(s: ProfileSource<N, T>): ProfileSource<N, T> => ({
    name: s.name,
    async fetch(uid, ctx) {
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      try {
        return await s.fetch(uid, ctx);
      } finally {
        inFlight--;
      }
    },
  });
  const agg = new ProfileAggregator({ sources: [track(f.crm), track(f.orders), track(f.membership)], timeoutMs: 5000 });
  try {
    const t0 = performance.now();
    const p = await agg.get('u1');
    const elapsed = performance.now() - t0;
    assert.equal(maxInFlight, 3);
    assert.equal(p.complete, true);
    // Sum would be 750 ms; the slowest alone is 300 ms. Generous bound for a loaded machine.
    assert.ok(elapsed < 700, `took ${elapsed} ms, as if called one after another`);
    assert.ok(p.sources.membership.ms >= 295, 'membership answered before its latency');
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a failing optional source leaves a partial profile saying why', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  try {
    const p = await agg.get('orders.error-1');
    assert.equal(p.complete, false);
    assert.equal(p.sources.orders.status, 'error');
    assert.equal(p.sources.orders.error?.code, 'KEFU_ERR_PROFILE_SOURCE_FAILED');
    assert.equal('orders' in p.data, false);
    assert.deepEqual(p.data.crm, crmRecord('orders.error-1'));
    assert.equal(p.sources.membership.status, 'ok');
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a record the service does not have is null with status ok', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  try {
    const p = await agg.get('crm.missing-1');
    assert.equal(p.data.crm, null);
    assert.equal(p.sources.crm.status, 'ok');
    assert.equal(p.complete, true);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a failed required source rejects with KEFU_ERR_PROFILE_REQUIRED_SOURCE_FAILED; a fallback rescues it', async () => {
  const f = await fixture({ crm: { required: true } });
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  const f2 = await fixture({ membership: { required: true, fallback: (uid) => ({ uid, level: 'none', vip: 0, points: 0, since: '' }) } });
  const agg2 = new ProfileAggregator({ sources: [f2.crm, f2.orders, f2.membership] });
  try {
    await assert.rejects(agg.get('crm.error-1'), (err: unknown) => {
      const e = err as { code: string; details: Record<string, unknown> };
      assert.equal(e.code, 'KEFU_ERR_PROFILE_REQUIRED_SOURCE_FAILED');
      assert.deepEqual(e.details, { uid: 'crm.error-1', source: 'crm', status: 'error' });
      return true;
    });
    const p = await agg2.get('membership.error-1');
    assert.equal(p.sources.membership.status, 'error');
    assert.equal(p.sources.membership.fallback, true);
    assert.equal(p.data.membership?.vip, 0);
    assert.equal(agg2.stats().membership?.fallbacks, 1);
  } finally {
    await agg.close();
    await agg2.close();
    await f.close();
    await f2.close();
  }
});

test('invalid uids reject with KEFU_ERR_PROFILE_INVALID_UID before any call', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  try {
    for (const bad of ['', 'a b', 'x'.repeat(129), '../etc/passwd', 'ü', 42 as unknown as string]) {
      await assert.rejects(agg.get(bad), { code: 'KEFU_ERR_PROFILE_INVALID_UID' });
    }
    assert.equal(f.backends.crm.stats.requests + f.backends.orders.stats.requests + f.backends.membership.stats.requests, 0);
    // A uid the aggregator accepts but a service refuses (HTTP 400) is that source's error.
    const strict = new ProfileAggregator({ sources: [f.crm], uidPattern: /^.{1,200}$/ });
    const p = await strict.get('has space');
    assert.equal(p.sources.crm.status, 'error');
    assert.equal(p.sources.crm.error?.details?.status, 400);
    await strict.close();
  } finally {
    await agg.close();
    await f.close();
  }
});

test('100 concurrent requests for one uid make one call per source', async () => {
  const f = await fixture({ services: { latencyMs: 30 } });
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership], cache: false });
  try {
    const all = await Promise.all(Array.from({ length: 100 }, () => agg.get('same-user')));
    assert.equal(all.length, 100);
    for (const p of all) assert.deepEqual(p.data.crm, crmRecord('same-user'));
    assert.equal(f.backends.crm.lookupsOf('same-user'), 1);
    assert.equal(f.backends.orders.lookupsOf('same-user'), 1);
    assert.equal(f.backends.membership.lookupsOf('same-user'), 1);
    assert.equal(agg.stats().crm?.coalesced, 99);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('the per-source concurrency limit bounds calls in flight; a full queue refuses at once', async () => {
  const f = await fixture({ services: { latencyMs: 40 } });
  const agg = new ProfileAggregator({ sources: [f.crm], sourceConcurrency: 4, maxQueue: 10, cache: false, timeoutMs: 5000 });
  try {
    const all = await Promise.all(Array.from({ length: 20 }, (_, i) => agg.get(`u${i}`)));
    assert.ok(f.backends.crm.stats.maxInFlight <= 4, `service saw ${f.backends.crm.stats.maxInFlight} at once`);
    // 4 running + 10 queued were taken; the other 6 were refused without a call.
    const refused = all.filter((p) => p.sources.crm.status === 'error');
    assert.equal(refused.length, 6);
    assert.equal(refused[0]!.sources.crm.error?.details?.reason, 'queue-full');
    assert.equal(f.backends.crm.lookups, 14);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('the global concurrency limit bounds calls across sources', async () => {
  const f = await fixture({ services: { latencyMs: 30 } });
  let inFlight = 0;
  let max = 0;
  const sources = [f.crm, f.orders, f.membership].map((s) => ({
    name: s.name,
    async fetch(uid: string, ctx: { signal: AbortSignal }) {
      inFlight++;
      max = Math.max(max, inFlight);
      try {
        return await s.fetch(uid, ctx);
      } finally {
        inFlight--;
      }
    },
  }));
  const agg = new ProfileAggregator({ sources, concurrency: 2, cache: false, timeoutMs: 5000 });
  try {
    await Promise.all(Array.from({ length: 6 }, (_, i) => agg.get(`g${i}`)));
    assert.equal(max, 2);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('after close(), get() rejects with KEFU_ERR_CLOSED and sources are closed', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  await agg.get('u1');
  await agg.close();
  await assert.rejects(agg.get('u1'), { code: 'KEFU_ERR_CLOSED' });
  await agg.close(); // idempotent
  await f.backends.close();
});

test('events: fetch per call', async () => {
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  const seen: string[] = [];
  agg.on('fetch', (e) => seen.push(`${e.source}:${e.status}:${e.uids}`));
  try {
    await agg.get('orders.error-9');
    assert.deepEqual(seen.sort(), ['crm:ok:1', 'membership:ok:1', 'orders:error:1']);
    const s = agg.stats();
    assert.equal(s.orders?.errors, 1);
    assert.equal(s.crm?.ok, 1);
    assert.equal(s.crm?.calls, 1);
    assert.equal(s.crm?.breaker, 'closed');
  } finally {
    await agg.close();
    await f.close();
  }
});
