import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startProfileBackends, startProfileService } from '../src/profile-services.js';
import { crmRecord, membershipRecord, ordersRecord } from '../src/profile-data.js';

function call(url: string, method = 'GET', body?: string, timeoutMs = 2000): Promise<{ status: number; json: unknown; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => {
        let json: unknown;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode ?? 0, json, text });
      });
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end(body);
  });
}

test('three services with the default 5/10/15 ms latencies answer deterministic records', async () => {
  const b = await startProfileBackends({ latencyMs: 0 }, {});
  try {
    assert.deepEqual((await call(`${b.crm.url}/users/u1`)).json, crmRecord('u1'));
    assert.deepEqual((await call(`${b.orders.url}/users/u1`)).json, ordersRecord('u1'));
    assert.deepEqual((await call(`${b.membership.url}/users/u1`)).json, membershipRecord('u1'));
    assert.deepEqual(crmRecord('u1'), crmRecord('u1'));
    assert.notDeepEqual(crmRecord('u1'), crmRecord('u2'));
  } finally {
    await b.close();
  }
  const d = await startProfileBackends();
  try {
    assert.deepEqual([d.crm.behaviour.latencyMs, d.orders.behaviour.latencyMs, d.membership.behaviour.latencyMs], [5, 10, 15]);
  } finally {
    await d.close();
  }
});

test('membership VIP levels are spread and consistent with the level', () => {
  const seen = new Set<number>();
  for (let i = 0; i < 500; i++) {
    const m = membershipRecord(`u${i}`);
    seen.add(m.vip);
    assert.equal(m.level, ['none', 'silver', 'gold', 'platinum'][m.vip]);
  }
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
});

test('batch endpoints (POST and GET) answer users and missing, and count lookups', async () => {
  const s = await startProfileService('crm', { latencyMs: 0, maxBatch: 3 });
  try {
    const r = await call(`${s.url}/users:batch`, 'POST', JSON.stringify({ ids: ['a', 'missing-b', 'c'] }));
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { users: { a: crmRecord('a'), c: crmRecord('c') }, missing: ['missing-b'] });
    const g = await call(`${s.url}/users?ids=a,c`);
    assert.deepEqual(Object.keys((g.json as { users: object }).users), ['a', 'c']);
    assert.equal(s.lookups, 5);
    assert.equal(s.batches, 2);
    assert.equal(s.lookupsOf('a'), 2);
    assert.equal((await call(`${s.url}/users:batch`, 'POST', JSON.stringify({ ids: ['a', 'b', 'c', 'd'] }))).status, 400);
    assert.equal((await call(`${s.url}/users:batch`, 'POST', JSON.stringify({ ids: [] }))).status, 400);
    assert.equal((await call(`${s.url}/users:batch`, 'POST', JSON.stringify({ ids: ['ok', 'b a d'] }))).status, 400);
  } finally {
    await s.close();
  }
});

test('uid-prefix faults, optionally aimed at one service', async () => {
  const b = await startProfileBackends({ latencyMs: 0, hugeBytes: 2048 });
  try {
    assert.equal((await call(`${b.crm.url}/users/missing-1`)).status, 404);
    assert.equal((await call(`${b.crm.url}/users/error-1`)).status, 500);
    assert.equal((await call(`${b.crm.url}/users/${encodeURIComponent('bad uid')}`)).status, 400);
    assert.equal((await call(`${b.crm.url}/users/invalid-1`)).json, undefined);
    assert.ok((await call(`${b.crm.url}/users/huge-1`)).text.length > 2048);
    assert.deepEqual((await call(`${b.crm.url}/users/shape-1`)).json, { uid: 'shape-1', unexpected: [1, 2, 3] });
    await assert.rejects(call(`${b.crm.url}/users/reset-1`));
    await assert.rejects(call(`${b.crm.url}/users/hang-1`, 'GET', undefined, 100));
    // Aimed at orders only: the others answer normally.
    assert.equal((await call(`${b.orders.url}/users/orders.error-7`)).status, 500);
    assert.equal((await call(`${b.crm.url}/users/orders.error-7`)).status, 200);
    // One faulty id spoils a batch.
    assert.equal((await call(`${b.crm.url}/users:batch`, 'POST', JSON.stringify({ ids: ['a', 'error-2'] }))).status, 500);
  } finally {
    await b.close();
  }
});

test('maxTalliedUids bounds the per-uid tally (0 turns it off) but not the lookup count', async () => {
  await assert.rejects(startProfileService('crm', { maxTalliedUids: -1 }), { name: 'RangeError', message: 'maxTalliedUids must be an integer >= 0' });
  await assert.rejects(startProfileService('crm', { maxTalliedUids: 1.5 }), { name: 'RangeError', message: 'maxTalliedUids must be an integer >= 0' });
  const two = await startProfileService('crm', { latencyMs: 0, maxTalliedUids: 2 });
  const off = await startProfileService('orders', { latencyMs: 0, maxTalliedUids: 0 });
  try {
    for (const u of ['a', 'b', 'c', 'a']) {
      assert.equal((await call(`${two.url}/users/${u}`)).status, 200);
      assert.equal((await call(`${off.url}/users/${u}`)).status, 200);
    }
    assert.deepEqual([two.lookupsOf('a'), two.lookupsOf('b'), two.lookupsOf('c')], [2, 1, 0]);
    assert.equal(two.lookups, 4);
    assert.deepEqual([off.lookupsOf('a'), off.lookups], [0, 4]);
  } finally {
    await Promise.all([two.close(), off.close()]);
  }
});

test('a batch costs one call\'s latency whatever its size (the latency model the benchmark relies on)', async () => {
  const answered: Array<{ route: string; latencyMs: number; elapsedMs: number }> = [];
  const s = await startProfileService('membership', { onAnswered: (a) => answered.push(a) });
  try {
    const ids = Array.from({ length: 500 }, (_, i) => `u${i}`);
    const r = await call(`${s.url}/users:batch`, 'POST', JSON.stringify({ ids }));
    assert.equal(Object.keys((r.json as { users: object }).users).length, 500);
    await call(`${s.url}/users/u1`);
    await call(`${s.url}/users?ids=${ids.slice(0, 50).join(',')}`);
    assert.deepEqual(answered.map((a) => [a.route, a.latencyMs]), [
      ['POST /users:batch', 15],
      ['GET /users/:uid', 15],
      ['GET /users', 15],
    ]);
    for (const a of answered) assert.ok(a.elapsedMs >= a.latencyMs, `${a.route} answered after ${a.elapsedMs} ms`);
  } finally {
    await s.close();
  }
});
