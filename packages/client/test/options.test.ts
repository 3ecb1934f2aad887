import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KefuClient, backoffDelay, reconnectDefaults } from '../src/index.js';

const url = 'ws://127.0.0.1:1/kefu';

test('options: impossible values throw with exact messages', () => {
  const cases: Array<[object, ErrorConstructor, string]> = [
    [{ url: 'http://x' }, TypeError, 'options.url must be a ws:// or wss:// URL'],
    [{ url, token: 42 }, TypeError, 'options.token must be a string or a function'],
    [{ url, reconnect: { minDelayMs: -1 } }, RangeError, 'reconnect.minDelayMs must be a non-negative number'],
    [{ url, reconnect: { minDelayMs: 500, maxDelayMs: 100 } }, RangeError, 'reconnect.maxDelayMs must be >= reconnect.minDelayMs'],
    [{ url, reconnect: { factor: 0.5 } }, RangeError, 'reconnect.factor must be >= 1'],
    [{ url, reconnect: { jitter: 1.5 } }, RangeError, 'reconnect.jitter must be between 0 and 1'],
    [{ url, reconnect: { maxAttempts: 0 } }, RangeError, 'reconnect.maxAttempts must be >= 1'],
    [{ url, requestTimeoutMs: 0 }, RangeError, 'requestTimeoutMs must be > 0'],
    [{ url, maxOutbox: 0 }, RangeError, 'maxOutbox must be an integer >= 1'],
    [{ url, typingThrottleMs: -5 }, RangeError, 'typingThrottleMs must be a non-negative number'],
    [{ url, heartbeatMs: -1 }, RangeError, 'heartbeatMs must be a non-negative number'],
  ];
  for (const [o, E, msg] of cases) assert.throws(() => new KefuClient(o as never), (e: Error) => e instanceof E && e.message === msg, msg);
  assert.throws(() => new KefuClient(null as never), { name: 'TypeError', message: 'options must be an object' });
});

test('options: defaults are merged by spreading', () => {
  const c = new KefuClient({ url, reconnect: { maxDelayMs: 5000 } });
  assert.deepEqual(c.options.reconnect, { ...reconnectDefaults, maxDelayMs: 5000 });
  assert.equal(c.options.maxOutbox, 500);
  assert.equal(c.options.typingThrottleMs, 2000);
  assert.equal(c.options.requestTimeoutMs, 15000);
  assert.equal(c.state, 'idle');
});

test('backoff: exponential, capped, jitter within its fraction', () => {
  const o = { ...reconnectDefaults, minDelayMs: 100, maxDelayMs: 1000, factor: 2, jitter: 0.5 };
  assert.equal(backoffDelay(0, o, () => 1), 100);
  assert.equal(backoffDelay(0, o, () => 0), 50);
  assert.equal(backoffDelay(3, o, () => 1), 800);
  assert.equal(backoffDelay(10, o, () => 1), 1000); // capped
  assert.equal(backoffDelay(10, o, () => 0), 500);
  assert.equal(backoffDelay(2, { ...o, jitter: 0 }, Math.random), 400);
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(4, o)));
  assert.ok(spread.size > 10, 'jitter spreads retries');
  for (const d of spread) assert.ok(d >= 500 && d <= 1000);
});
