import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../../src/testing/environment.js';
import { ProfileAggregator, HttpProfileSource } from '../../src/profile/index.js';
import { fixture, until } from './helpers.js';

test('a hanging source times out, is aborted (the service sees the connection close) and the rest is served', async () => {
  const f = await fixture({ crm: { timeoutMs: 150 } });
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership] });
  try {
    const t0 = performance.now();
    const p = await agg.get('crm.hang-1');
    assert.ok(performance.now() - t0 < 2000, 'waited far past the timeout');
    assert.equal(p.sources.crm.status, 'timeout');
    assert.equal(p.sources.crm.error?.code, 'KEFU_ERR_PROFILE_SOURCE_TIMEOUT');
    assert.equal(p.sources.orders.status, 'ok');
    assert.equal(p.sources.membership.status, 'ok');
    // The socket was really released: the service saw the client hang up.
    assert.ok(await until(() => f.backends.crm.stats.aborted === 1), 'crm never saw the aborted request');
    assert.equal(f.backends.crm.stats.inFlight, 0);
    assert.equal(agg.stats().crm?.timeouts, 1);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a source that ignores its AbortSignal still cannot hold the caller past the timeout', async () => {
  const stuck = { name: 'stuck', fetch: () => new Promise<never>(() => undefined), timeoutMs: 50 };
  const agg = new ProfileAggregator({ sources: [stuck] });
  const p = await agg.get('u1');
  assert.equal(p.sources.stuck?.status, 'timeout');
  await agg.close();
});

test('time spent queued for a slot counts against the timeout', async () => {
  const f = await fixture({ each: { crm: { latencyMs: 300 } } });
  // One global slot: the slow crm call holds it; the orders lookup waits and times out queued.
  const ordersShort = new HttpProfileSource({ name: 'orders', url: f.backends.orders.url, timeoutMs: 100 });
  const agg2 = new ProfileAggregator({ sources: [f.crm, ordersShort], concurrency: 1, timeoutMs: 2000, cache: false });
  try {
    const p = await agg2.get('q1');
    assert.equal(p.sources.crm.status, 'ok');
    assert.equal(p.sources.orders.status, 'timeout');
    // The orders lookup never left the queue in time, so it never reached the service.
    assert.equal(f.backends.orders.lookupsOf('q1'), 0);
  } finally {
    await agg2.close();
    await f.close();
  }
});

test('non-JSON, huge, wrong-shape, reset and 500 answers give per-source errors and a partial profile', async () => {
  const f = await fixture({ services: { hugeBytes: 32 * 1024 * 1024 }, crm: { maxResponseBytes: 64 * 1024 } });
  const agg = new ProfileAggregator({ sources: [f.crm, f.orders, f.membership], retry: { retries: 0 } });
  try {
    const cases: Array<[string, string]> = [
      ['crm.invalid-1', 'KEFU_ERR_PROFILE_BAD_RESPONSE'],
      ['crm.huge-1', 'KEFU_ERR_PROFILE_RESPONSE_TOO_LARGE'],
      ['crm.shape-1', 'KEFU_ERR_PROFILE_BAD_RESPONSE'],
      ['crm.reset-1', 'KEFU_ERR_PROFILE_SOURCE_FAILED'],
      ['crm.error-1', 'KEFU_ERR_PROFILE_SOURCE_FAILED'],
    ];
    for (const [uid, code] of cases) {
      const p = await agg.get(uid);
      assert.equal(p.sources.crm.status, 'error', uid);
      assert.equal(p.sources.crm.error?.code, code, uid);
      assert.equal(p.sources.orders.status, 'ok', uid);
      assert.equal(p.sources.membership.status, 'ok', uid);
      assert.equal(p.complete, false);
    }
    // The huge body was cut off, not read to the end: the service saw its connection closed.
    assert.ok(await until(() => f.backends.crm.stats.aborted >= 2), 'huge body was read to the end');
  } finally {
    await agg.close();
    await f.close();
  }
});

test('a declared content-length over the limit is refused without reading the body', async () => {
  const f = await fixture({ crm: { maxResponseBytes: 100 } });
  const agg = new ProfileAggregator({ sources: [f.crm] });
  try {
    const p = await agg.get('u1');
    assert.equal(p.sources.crm.error?.code, 'KEFU_ERR_PROFILE_RESPONSE_TOO_LARGE');
    assert.equal(p.sources.crm.error?.details?.seen, JSON.stringify((await (await fetch(`${f.backends.crm.url}/users/u1`)).json())).length);
  } finally {
    await agg.close();
    await f.close();
  }
});

test('connection refused is a per-source error, never a crash', async () => {
  const port = await freePort();
  const dead = new HttpProfileSource({ name: 'dead', url: `http://127.0.0.1:${port}` });
  const f = await fixture();
  const agg = new ProfileAggregator({ sources: [dead, f.crm] });
  try {
    const p = await agg.get('u1');
    assert.equal(p.sources.dead.status, 'error');
    assert.equal(p.sources.dead.error?.code, 'KEFU_ERR_PROFILE_SOURCE_FAILED');
    assert.equal(p.sources.dead.error?.details?.errorCode, 'ECONNREFUSED');
    assert.equal(p.sources.crm.status, 'ok');
  } finally {
    await agg.close();
    await f.backends.close();
  }
});

test('a throwing source and a throwing fallback are contained', async () => {
  const boom = {
    name: 'boom',
    fetch: () => Promise.reject(new TypeError('kaboom')),
    fallback: () => {
      throw new Error('fallback also broken');
    },
  };
  const agg = new ProfileAggregator({ sources: [boom] });
  const p = await agg.get('u1');
  assert.equal(p.sources.boom?.status, 'error');
  assert.equal(p.sources.boom?.error?.code, 'KEFU_ERR_PROFILE_SOURCE_FAILED');
  assert.match(p.sources.boom?.error?.message ?? '', /kaboom/);
  assert.equal(p.sources.boom?.fallback, undefined);
  await agg.close();
});

test('a source whose fallback cannot even be read rejects that get() with the error, batched or not, and nothing else', async () => {
  const broken = (name: string, batch: boolean) => ({
    name,
    fetch: () => Promise.reject(new Error('down')),
    ...(batch ? { fetchMany: () => Promise.reject(new Error('down')) } : {}),
    get fallback(): undefined {
      throw new Error(`reading ${name}'s fallback failed`);
    },
  });
  const ok = { name: 'ok', fetch: async (uid: string) => ({ uid }) };
  for (const batch of [false, true]) {
    const agg = new ProfileAggregator({ sources: [ok, broken('odd', batch)], retry: { retries: 0 } });
    try {
      const [a, b] = await Promise.allSettled([agg.get('u1'), agg.get('u2')]);
      for (const r of [a, b]) {
        assert.equal(r?.status, 'rejected');
        assert.match(String((r as PromiseRejectedResult).reason), /reading odd's fallback failed/);
      }
      // The aggregator keeps working afterwards.
      assert.equal(agg.stats().ok?.ok, 2);
    } finally {
      await agg.close();
    }
  }
});

test('headers and authorization are sent', async () => {
  const seen: Array<string | undefined> = [];
  const { startJsonService } = await import('@kefu/mock-backends');
  const svc = await startJsonService([{ method: 'GET', path: '/users/:uid', handler: (req) => {
    seen.push(`${String(req.headers.authorization)}|${String(req.headers['x-tenant'])}`);
    return { body: { uid: req.params.uid } };
  } }]);
  let n = 0;
  const src = new HttpProfileSource({ name: 'auth', url: svc.url, headers: { 'x-tenant': 't1' }, authorization: () => `Bearer t${++n}` });
  const agg = new ProfileAggregator({ sources: [src], cache: false });
  try {
    await agg.get('a');
    await agg.get('b');
    assert.deepEqual(seen, ['Bearer t1|t1', 'Bearer t2|t1']);
  } finally {
    await agg.close();
    await svc.close();
  }
});

test('HttpProfileSource option errors are exact', () => {
  assert.throws(() => new HttpProfileSource({ name: '', url: 'http://127.0.0.1:1' }), { name: 'TypeError', message: 'name must be a non-empty string' });
  assert.throws(() => new HttpProfileSource({ name: 'x', url: 'ftp://127.0.0.1:1' }), { name: 'TypeError', message: 'url must be an http: or https: URL' });
  assert.throws(() => new HttpProfileSource({ name: 'x', url: 'http://127.0.0.1:1', maxResponseBytes: 0 }), { name: 'RangeError', message: 'maxResponseBytes must be an integer >= 1' });
  assert.throws(() => new HttpProfileSource({ name: 'x', url: 'http://127.0.0.1:1', connections: 0 }), { name: 'RangeError', message: 'connections must be an integer >= 1' });
});

test('an authorization function that never answers still cannot hold the caller past the timeout', async () => {
  const f = await fixture();
  const crm = new HttpProfileSource({ name: 'crm', url: f.backends.crm.url, timeoutMs: 60, authorization: () => new Promise<string>(() => undefined) });
  const agg = new ProfileAggregator({ sources: [crm, f.orders], cache: false });
  try {
    const p = await agg.get('auth-1');
    assert.equal(p.sources.crm.status, 'timeout');
    assert.equal(p.sources.orders.status, 'ok');
  } finally {
    await agg.close();
    await crm.close();
    await f.close();
  }
});
