import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { startErpService, IdempotencyStore, FaultSwitch, maxIdempotencyKeyLength, type ErpService } from '../src/erp.js';

async function post(url: string, body: unknown, key?: string, signal?: AbortSignal): Promise<{ status: number; body: Record<string, unknown>; replayed: boolean }> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const res = await fetch(url, { method: 'POST', headers, body: JSON.stringify(body), signal: signal ?? AbortSignal.timeout(5_000) });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, replayed: res.headers.get('idempotent-replayed') === 'true' };
}

async function withErp(fn: (erp: ErpService) => Promise<void>, options = {}): Promise<void> {
  const erp = await startErpService(options);
  try {
    await fn(erp);
  } finally {
    await erp.close();
  }
}

describe('ERP mock: idempotent refunds', () => {
  test('same key and body -> same answer, refund applied once; same key, other body -> 422', () => withErp(async (erp) => {
    const first = await post(`${erp.url}/refunds`, { orderId: 'o-1', amount: 30 }, 'k1');
    assert.equal(first.status, 201);
    assert.equal(first.body.status, 'applied');
    const again = await post(`${erp.url}/refunds`, { orderId: 'o-1', amount: 30 }, 'k1');
    assert.equal(again.status, 201);
    assert.equal(again.replayed, true);
    assert.deepEqual(again.body, first.body);
    assert.equal(erp.refundsApplied, 1);
    assert.equal(erp.refundedOf('o-1'), 30);
    const other = await post(`${erp.url}/refunds`, { orderId: 'o-1', amount: 31 }, 'k1');
    assert.equal(other.status, 422);
    assert.equal(erp.refundsApplied, 1);
    const got = await fetch(`${erp.url}/orders/o-1/refunds`).then((r) => r.json());
    assert.deepEqual(got, { orderId: 'o-1', refunded: 30, count: 1 });
  }));

  test('20 concurrent retries with one key make one refund', () => withErp(async (erp) => {
    const outs = await Promise.all(Array.from({ length: 20 }, () => post(`${erp.url}/refunds`, { orderId: 'o-2', amount: 5 }, 'same')));
    assert.equal(new Set(outs.map((o) => o.body.refundId)).size, 1);
    assert.equal(erp.refundsApplied, 1);
    assert.equal(erp.refundCountOf('o-2'), 1);
  }));

  test('missing key or bad body -> 400, nothing applied', () => withErp(async (erp) => {
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 })).status, 400);
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: -1 }, 'k')).status, 400);
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o o', amount: 1 }, 'k')).status, 400);
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, 'k'.repeat(maxIdempotencyKeyLength + 1))).status, 400);
    assert.equal(erp.refundsApplied, 0);
  }));

  test('the longest key a saga makes (256-character id + ":" + 100-character step) refunds and reverses', () => withErp(async (erp) => {
    const key = `${'s'.repeat(256)}:${'r'.repeat(100)}`;
    assert.ok(key.length <= maxIdempotencyKeyLength);
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o-long', amount: 3 }, key)).status, 201);
    const rev = await post(`${erp.url}/refunds/reverse`, {}, key);
    assert.equal(rev.status, 200);
    assert.equal(rev.body.reversed, true);
    assert.equal((await post(`${erp.url}/refunds/reverse`, {}, key)).body.reversed, true, 'a repeated reverse replays');
    assert.equal(erp.refundsReversed, 1);
    assert.equal(erp.refundedOf('o-long'), 0);
    assert.equal((await post(`${erp.url}/refunds/reverse`, {})).status, 400, 'a reverse without a key is refused');
  }));

  test('a refund past the order balance -> 409, not retryable', () => withErp(async (erp) => {
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 80 }, 'a')).status, 201);
    const over = await post(`${erp.url}/refunds`, { orderId: 'o', amount: 30 }, 'b');
    assert.equal(over.status, 409);
    assert.equal(over.body.retryable, false);
    assert.equal(erp.refundedOf('o'), 80);
  }, { maxRefundPerOrder: 100 }));

  test('reverse undoes once; reversing an unknown key cancels a late refund with that key', () => withErp(async (erp) => {
    await post(`${erp.url}/refunds`, { orderId: 'o', amount: 10 }, 'r1');
    const rev = await post(`${erp.url}/refunds/reverse`, {}, 'r1');
    assert.deepEqual(rev.body, { reversed: true, refundId: 'rf-1' });
    const rev2 = await post(`${erp.url}/refunds/reverse`, {}, 'r1');
    assert.deepEqual(rev2.body, rev.body);
    assert.equal(erp.refundsReversed, 1);
    assert.equal(erp.refundedOf('o'), 0);
    const none = await post(`${erp.url}/refunds/reverse`, {}, 'late');
    assert.deepEqual(none.body, { reversed: false, reason: 'no refund with that key' });
    const late = await post(`${erp.url}/refunds`, { orderId: 'o', amount: 10 }, 'late');
    assert.equal(late.status, 409);
    assert.equal(erp.refundsApplied, 1);
  }));
});

describe('ERP mock: faults', () => {
  test('next N: N failures without effect, then it works', () => withErp(async (erp) => {
    erp.faults.set({ mode: 'next', count: 2 });
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, 'k')).status, 503);
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, 'k')).status, 503);
    assert.equal(erp.refundsApplied, 0);
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, 'k')).status, 201);
    assert.equal(erp.refundsApplied, 1);
    assert.equal(erp.faults.settings.mode, 'off');
  }));

  test('fail-after-apply: the answer is lost, the effect is not; the retry replays it', () => withErp(async (erp) => {
    erp.faults.set({ mode: 'next', count: 1, kind: 'fail-after-apply' });
    assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 7 }, 'k')).status, 503);
    assert.equal(erp.refundsApplied, 1);
    const retry = await post(`${erp.url}/refunds`, { orderId: 'o', amount: 7 }, 'k');
    assert.equal(retry.status, 201);
    assert.equal(retry.replayed, true);
    assert.equal(erp.refundsApplied, 1);
    assert.equal(erp.refundedOf('o'), 7);
  }));

  test('always and rate modes, set over HTTP; bad settings -> 400 with the message', () => withErp(async (erp) => {
    assert.equal((await post(`${erp.url}/_faults`, { mode: 'always', status: 500 })).status, 200);
    for (let i = 0; i < 3; i++) assert.equal((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, `a${i}`)).status, 500);
    await post(`${erp.url}/_faults`, { mode: 'rate', rate: 0.5 });
    const statuses = [];
    for (let i = 0; i < 40; i++) statuses.push((await post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, `r${i}`)).status);
    const failed = statuses.filter((s) => s === 503).length;
    assert.ok(failed > 5 && failed < 35, `about half fail: ${failed}/40`);
    assert.equal(erp.refundsApplied, 40 - failed);
    const bad = await post(`${erp.url}/_faults`, { mode: 'rate', rate: 2 });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error, 'rate must be a number between 0 and 1');
  }, { maxRefundPerOrder: 1e9 }));

  test('hang: no answer and no effect until the client gives up', () => withErp(async (erp) => {
    erp.faults.set({ mode: 'always', kind: 'hang' });
    await assert.rejects(post(`${erp.url}/refunds`, { orderId: 'o', amount: 1 }, 'h', AbortSignal.timeout(150)), (e: Error) => e.name === 'TimeoutError');
    assert.equal(erp.refundsApplied, 0);
    assert.equal(erp.faults.produced.hang, 1);
  }));

  test('fault settings and limits are checked with exact messages', () => {
    const sw = new FaultSwitch();
    assert.throws(() => sw.set({ mode: 'sometimes' as 'off' }), { name: 'TypeError', message: "mode must be 'off', 'always', 'next' or 'rate'" });
    assert.throws(() => sw.set({ mode: 'always', kind: 'explode' as 'fail' }), { name: 'TypeError', message: "kind must be 'fail', 'fail-after-apply' or 'hang'" });
    assert.throws(() => sw.set({ mode: 'next', count: 0 }), { name: 'RangeError', message: 'count must be a positive integer' });
    assert.throws(() => sw.set({ mode: 'always', status: 200 }), { name: 'RangeError', message: 'status must be an HTTP error status (400-599)' });
    assert.throws(() => sw.set({ mode: 'rate', rate: 1.5 }), { name: 'RangeError', message: 'rate must be a number between 0 and 1' });
    assert.throws(() => sw.set(null as never), { name: 'TypeError', message: "mode must be 'off', 'always', 'next' or 'rate'" });
    assert.throws(() => new IdempotencyStore(0), { name: 'RangeError', message: 'maxIdempotencyKeys must be a positive integer' });
  });

  test('impossible service options are refused with exact messages', async () => {
    await assert.rejects(startErpService({ maxRefundPerOrder: 0 }), { name: 'RangeError', message: 'maxRefundPerOrder must be a positive number' });
    await assert.rejects(startErpService({ maxIdempotencyKeys: 0 }), { name: 'RangeError', message: 'maxIdempotencyKeys must be a positive integer' });
    await assert.rejects(startErpService({ faults: { mode: 'never' as 'off' } }), { name: 'TypeError', message: "mode must be 'off', 'always', 'next' or 'rate'" });
  });

  test('the idempotency store forgets its oldest keys past its bound', () => {
    const store = new IdempotencyStore(2);
    store.remember('a', 'f', 201, 1);
    store.remember('b', 'f', 201, 2);
    store.remember('c', 'f', 201, 3);
    assert.equal(store.size, 2);
    assert.equal(store.has('a'), false);
    assert.deepEqual(store.replay('c', 'f')?.body, 3);
  });
});
