import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crmRecord, membershipRecord } from '@kefu/mock-backends';
import { ProfileAggregator, type ProfileSource } from '../../src/profile/index.js';
import { fixture } from './helpers.js';

const batch = { path: '/users:batch', maxSize: 100, windowMs: 5 };

/** An in-process batch-only source (a named test double) that records each `fetchMany`'s uids and answers a uid upper-cased. */
function recordingSource<N extends string>(name: N, options?: ProfileSource<N, string>['batch']): { src: ProfileSource<N, string>; batches: string[][] } {
  const batches: string[][] = [];
  const src: ProfileSource<N, string> = {
    name,
    fetch: () => Promise.reject(new Error('unused')),
    fetchMany: async (uids) => {
      batches.push([...uids]);
      return new Map(uids.map((u) => [u, u.toUpperCase()]));
    },
    ...(options ? { batch: options } : {}),
  };
  return { src, batches };
}

test('concurrent lookups for different uids go out as one batch call per source', async () => {
  const f = await fixture({ crm: { batch }, orders: { batch }, membership: { batch: { ...batch, method: 'GET', path: '/users' } } });
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership], cache: false });
  try {
    const uids = Array.from({ length: 50 }, (_, i) => `b${i}`);
    const all = await Promise.all(uids.map((u) => agg.get(u)));
    for (const [i, p] of all.entries()) {
      assert.deepEqual(p.data.crm, crmRecord(uids[i]!));
      assert.deepEqual(p.data.membership, membershipRecord(uids[i]!));
      assert.equal(p.complete, true);
    }
    for (const s of [f.backends.crm, f.backends.orders, f.backends.membership]) {
      assert.equal(s.stats.requests, 1, `${s.name} got ${s.stats.requests} requests`);
      assert.equal(s.lookups, 50);
    }
    assert.equal(agg.stats().crm?.batches, 1);
    assert.equal(agg.stats().crm?.lookups, 50);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a batch never exceeds maxSize', async () => {
  const f = await fixture({ crm: { batch: { maxSize: 8, windowMs: 20 } } });
  const agg = new ProfileAggregator({ sources: [f.crm], cache: false });
  const sizes: number[] = [];
  agg.on('fetch', (e) => sizes.push(e.uids));
  try {
    await Promise.all(Array.from({ length: 30 }, (_, i) => agg.get(`m${i}`)));
    assert.deepEqual(sizes.sort((a, b) => b - a), [8, 8, 8, 6]);
    assert.equal(f.backends.crm.batches, 4);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a lookup after a quiet spell goes out in the same turn; lookups right after a batch wait for the next one', async () => {
  const { src, batches } = recordingSource('w', { windowMs: 1000, maxSize: 1000 });
  const agg = new ProfileAggregator({ sources: [src], cache: false });
  try {
    const a = agg.get('a');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(batches, [['a']], 'the first lookup waited for the window');
    const b = agg.get('b');
    await new Promise((r) => setTimeout(r, 5));
    const c = agg.get('c');
    await new Promise((r) => setImmediate(r));
    assert.equal(batches.length, 1, 'a lookup right after a batch did not wait for the next one');
    const [pa, pb, pc] = await Promise.all([a, b, c]);
    assert.deepEqual([pa.data.w, pb.data.w, pc.data.w], ['A', 'B', 'C']);
    assert.deepEqual(batches, [['a'], ['b', 'c']]);
  } finally {
    await agg.close();
  }
});

test('inside a batch: missing uids are null, wrong shapes fail only that uid; a batch fault fails the batch', async () => {
  const f = await fixture({ crm: { batch } });
  const agg = new ProfileAggregator({ sources: [f.crm], cache: false, retry: { retries: 0 } });
  try {
    const [ok, missing, shape] = await Promise.all([agg.get('x1'), agg.get('missing-x'), agg.get('shape-x')]);
    assert.equal(f.backends.crm.batches, 1);
    assert.deepEqual(ok.data.crm, crmRecord('x1'));
    assert.equal(missing.data.crm, null);
    assert.equal(missing.sources.crm.status, 'ok');
    assert.equal(shape.sources.crm.status, 'error');
    assert.equal(shape.sources.crm.error?.code, 'KEFU_ERR_PROFILE_BAD_RESPONSE');

    const [a, b] = await Promise.all([agg.get('y1'), agg.get('error-y')]);
    assert.equal(a.sources.crm.status, 'error');
    assert.equal(b.sources.crm.status, 'error');
    assert.equal(f.backends.crm.batches, 2);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a batch answer of the wrong shape is KEFU_ERR_PROFILE_BAD_RESPONSE for every uid in it', async () => {
  const { startJsonService } = await import('@kefu/mock-backends');
  const svc = await startJsonService([{ method: 'POST', path: '/users:batch', handler: () => ({ body: ['not', 'an', 'object'] }) }]);
  const { HttpProfileSource } = await import('../../src/profile/index.js');
  const src = new HttpProfileSource({ name: 'odd', url: svc.url, batch: {} });
  const agg = new ProfileAggregator({ sources: [src] });
  try {
    const [a, b] = await Promise.all([agg.get('a'), agg.get('b')]);
    assert.equal(a.sources.odd.error?.code, 'KEFU_ERR_PROFILE_BAD_RESPONSE');
    assert.equal(b.sources.odd.error?.code, 'KEFU_ERR_PROFILE_BAD_RESPONSE');
  } finally {
    await agg.close();
    await svc.close();
  }
});

test('without a validate hook the batch answer is read as parsed: only its own keys count, inherited names are missing', async () => {
  const { startJsonService } = await import('@kefu/mock-backends');
  const svc = await startJsonService([{ method: 'POST', path: '/users:batch', handler: () => ({ body: { users: { u1: { n: 1 }, u2: null, extra: { n: 3 } } } }) }]);
  const { HttpProfileSource } = await import('../../src/profile/index.js');
  const src = new HttpProfileSource({ name: 'plain', url: svc.url, batch: {} });
  const agg = new ProfileAggregator({ sources: [src], cache: false });
  try {
    const [u1, ...missing] = await Promise.all(['u1', 'u2', 'constructor', 'toString', '__proto__'].map((u) => agg.get(u)));
    assert.equal(svc.stats.requests, 1, 'one batch call');
    assert.deepEqual(u1!.data.plain, { n: 1 });
    for (const p of missing) {
      assert.equal(p.sources.plain.status, 'ok');
      assert.equal(p.data.plain, null, `${p.uid} is missing, not an inherited property`);
    }
  } finally {
    await agg.close();
    await svc.close();
  }
});

test('batching and coalescing together: repeats of a uid take one slot in the batch', async () => {
  const f = await fixture({ crm: { batch } });
  const agg = new ProfileAggregator({ sources: [f.crm], cache: false });
  try {
    await Promise.all([...Array.from({ length: 20 }, () => agg.get('same')), agg.get('other')]);
    assert.equal(f.backends.crm.batches, 1);
    assert.equal(f.backends.crm.lookups, 2);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('close() settles lookups waiting in a batch window', async () => {
  const src: ProfileSource<'slow', number> = {
    name: 'slow',
    fetch: async () => 1,
    fetchMany: async (uids) => new Map(uids.map((u) => [u, 1])),
    batch: { windowMs: 10_000 },
  };
  const agg = new ProfileAggregator({ sources: [src] });
  const p = agg.get('a');
  await agg.close();
  const r = await p;
  assert.equal(r.sources.slow.status, 'error');
  assert.equal(r.sources.slow.error?.code, 'KEFU_ERR_CLOSED');
});

test('with the default window, the lookups of one turn share a batch, a later lookup goes in another, and maxSize splits a batch', async () => {
  const { src, batches } = recordingSource('t');
  const agg = new ProfileAggregator({ sources: [src], cache: false });
  try {
    const first = await Promise.all([agg.get('a'), agg.get('b'), agg.get('c')]);
    assert.deepEqual(first.map((p) => p.data.t), ['A', 'B', 'C']);
    await agg.get('d');
    // 150 lookups in one turn: the default maxSize (100) splits them.
    await Promise.all(Array.from({ length: 150 }, (_, i) => agg.get(`m${i}`)));
    assert.deepEqual(batches.map((b) => b.length), [3, 1, 100, 50]);
    assert.deepEqual(batches[0], ['a', 'b', 'c']);
  } finally {
    await agg.close();
  }
});
