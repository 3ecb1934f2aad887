import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Pool } from 'undici';
import { startJsonService, startProfileService } from '@kefu/mock-backends';
import { exchange, type ExchangeError } from '../../src/profile/json-exchange.js';
import { CallContext } from '../../src/profile/abort.js';

const all = (): boolean => true;
const ok2xx = (s: number): boolean => s >= 200 && s < 300;

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

test('exchange reads a body, drops an unwanted one and keeps the connection for the next call', async () => {
  const s = await startProfileService('crm', { latencyMs: 0 });
  const pool = new Pool(s.url, { connections: 1 });
  try {
    const ctx = new CallContext(Infinity);
    const a = await exchange(pool, { origin: s.url, method: 'GET', path: '/users/u1' }, ctx, 1 << 20, ok2xx);
    assert.equal(a.status, 200);
    assert.equal((JSON.parse(a.text) as { uid: string }).uid, 'u1');
    assert.equal(a.bytes, Buffer.byteLength(a.text));
    const missing = await exchange(pool, { origin: s.url, method: 'GET', path: '/users/missing-1' }, ctx, 1 << 20, ok2xx);
    assert.deepEqual([missing.status, missing.text], [404, '']);
    const again = await exchange(pool, { origin: s.url, method: 'GET', path: '/users/u2' }, ctx, 1 << 20, ok2xx);
    assert.equal(again.status, 200);
    assert.equal(s.stats.totalConnections, 1);
  } finally {
    await pool.destroy();
    await s.close();
  }
});

test('a body over the limit rejects as too-large and its connection is dropped, declared or streamed', async () => {
  const s = await startProfileService('crm', { latencyMs: 0, hugeBytes: 4 * 1024 * 1024 });
  const pool = new Pool(s.url, { connections: 1 });
  try {
    const ctx = new CallContext(Infinity);
    // Streamed (chunked, no content-length): counted as it arrives.
    await assert.rejects(exchange(pool, { origin: s.url, method: 'GET', path: '/users/huge-1' }, ctx, 64 * 1024, all), (e: ExchangeError) => {
      assert.equal(e.kind, 'too-large');
      assert.ok(e.seen > 64 * 1024);
      return true;
    });
    // The service sees its answer cut short: the socket was destroyed, not drained.
    await until(() => s.stats.aborted === 1, 'the oversized answer to be cut short');
    assert.equal(s.stats.completed, 0);
    // Declared: refused from the headers.
    await assert.rejects(exchange(pool, { origin: s.url, method: 'GET', path: '/users/u1' }, ctx, 10, all), (e: ExchangeError) => e.kind === 'too-large' && e.seen > 10);
  } finally {
    await pool.destroy();
    await s.close();
  }
});

test('an abort settles at once: a hung call releases its socket, a queued call never reaches the service', async () => {
  const s = await startProfileService('crm', { latencyMs: 0 });
  const pool = new Pool(s.url, { connections: 1 });
  try {
    const hung = new CallContext(Infinity);
    const queued = new CallContext(Infinity);
    const p1 = exchange(pool, { origin: s.url, method: 'GET', path: '/users/hang-1' }, hung, 1 << 20, all);
    const p2 = exchange(pool, { origin: s.url, method: 'GET', path: '/users/u-queued' }, queued, 1 << 20, all);
    await until(() => s.stats.inFlight === 1, 'the hang to arrive');
    queued.abort();
    await assert.rejects(p2, (e: ExchangeError) => e.kind === 'aborted');
    hung.abort();
    await assert.rejects(p1, (e: ExchangeError) => e.kind === 'aborted');
    await until(() => s.stats.aborted === 1, 'the hung request\'s socket to close');
    assert.equal(s.lookupsOf('u-queued'), 0);
    // Already aborted: no request at all.
    await assert.rejects(exchange(pool, { origin: s.url, method: 'GET', path: '/users/u3' }, queued, 1 << 20, all), (e: ExchangeError) => e.kind === 'aborted');
    assert.equal(s.lookupsOf('u3'), 0);
  } finally {
    await pool.destroy();
    await s.close();
  }
});

test('connection refused rejects as a network failure with undici\'s error as cause', async () => {
  const pool = new Pool('http://127.0.0.1:1', { connections: 1 });
  try {
    await assert.rejects(exchange(pool, { origin: 'http://127.0.0.1:1', method: 'GET', path: '/x' }, new CallContext(Infinity), 100, all), (e: ExchangeError) => {
      assert.equal(e.kind, 'network');
      assert.equal((e.cause as { code?: string }).code, 'ECONNREFUSED');
      return true;
    });
  } finally {
    await pool.destroy();
  }
});

test('a plain AbortSignal works too (a context built outside the aggregator)', async () => {
  const s = await startProfileService('crm', { latencyMs: 0 });
  const pool = new Pool(s.url, { connections: 1 });
  try {
    const ac = new AbortController();
    const ok = await exchange(pool, { origin: s.url, method: 'GET', path: '/users/u1' }, ac.signal, 1 << 20, ok2xx);
    assert.equal(ok.status, 200);
    const hung = exchange(pool, { origin: s.url, method: 'GET', path: '/users/hang-2' }, ac.signal, 1 << 20, all);
    await until(() => s.stats.inFlight === 1, 'the hang to arrive');
    ac.abort();
    await assert.rejects(hung, (e: ExchangeError) => e.kind === 'aborted');
    await until(() => s.stats.aborted === 1, 'the hung request\'s socket to close');
  } finally {
    await pool.destroy();
    await s.close();
  }
});

test('an unwanted body (an error page) is dropped, and past the limit its connection goes', async () => {
  const s = await startJsonService([
    { method: 'GET', path: '/small', handler: () => ({ status: 500, body: { error: 'x' } }) },
    { method: 'GET', path: '/big', handler: () => ({ status: 500, raw: 'x'.repeat(256 * 1024) }) },
  ]);
  const pool = new Pool(s.url, { connections: 1 });
  try {
    const ctx = new CallContext(Infinity);
    const small = await exchange(pool, { origin: s.url, method: 'GET', path: '/small' }, ctx, 1000, ok2xx);
    assert.deepEqual([small.status, small.text], [500, '']);
    assert.equal(s.stats.totalConnections, 1);
    const big = await exchange(pool, { origin: s.url, method: 'GET', path: '/big' }, ctx, 1000, ok2xx);
    assert.deepEqual([big.status, big.text], [500, '']);
    assert.ok(big.bytes > 1000);
    // The service wrote the whole page into the socket at once, so only the client side can tell:
    // the next call needs a new connection.
    const next = await exchange(pool, { origin: s.url, method: 'GET', path: '/small' }, ctx, 1000, ok2xx);
    assert.equal(next.status, 500);
    assert.equal(s.stats.totalConnections, 2);
  } finally {
    await pool.destroy();
    await s.close();
  }
});
