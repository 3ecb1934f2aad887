import { test } from 'node:test';
import assert from 'node:assert/strict';
import { aborted, CallContext, channelOf, DeadlineQueue } from '../../src/profile/abort.js';
import { ProfileAggregator, type FetchContext } from '../../src/profile/index.js';

test('CallContext: abort tells channel listeners and a signal built before or after', () => {
  const early = new CallContext(0);
  const signal = early.signal;
  let heard = 0;
  const listener = (): void => {
    heard++;
  };
  early.once('abort', listener);
  early.abort();
  early.abort();
  assert.equal(signal.aborted, true);
  assert.equal(heard, 1);
  const late = new CallContext(0);
  late.abort();
  assert.equal(late.signal.aborted, true, 'a signal read after the abort is born aborted');
  const removed = new CallContext(0);
  removed.on('abort', listener);
  removed.removeListener('abort', listener);
  removed.abort();
  assert.equal(heard, 1);
  assert.equal(channelOf(removed), removed);
  assert.equal(channelOf({ signal }), undefined);
});

test('CallContext.race rejects with `aborted` when the call is given up on, and at once when it already was', async () => {
  const c = new CallContext(0);
  const never = new Promise<never>(() => undefined);
  const waiting = c.race(never);
  c.abort();
  await assert.rejects(waiting, (e) => e === aborted);
  await assert.rejects(c.race(Promise.resolve(1)), (e) => e === aborted);
  assert.equal(await new CallContext(0).race(Promise.resolve(7)), 7);
});

test('DeadlineQueue: calls expire in order on one timer; finished calls are dropped, not kept', async () => {
  const q = new DeadlineQueue();
  const t = performance.now();
  const calls = [0, 1, 2, 3].map((i) => new CallContext(t + 30 + i * 5));
  for (const c of calls) q.add(c);
  q.settle(calls[0]!);
  assert.equal(q.size, 3, 'the finished head is dropped at once');
  q.settle(calls[2]!);
  assert.equal(q.size, 3, 'a finished call behind a running head waits for the head');
  const deadline = Date.now() + 5000;
  while (!calls[3]!.aborted && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
  assert.deepEqual(calls.map((c) => c.aborted), [false, true, false, true]);
  assert.equal(q.size, 0);
  // Bounded: thousands of finished calls leave nothing behind.
  for (let i = 0; i < 5000; i++) {
    const c = new CallContext(performance.now() + 10_000);
    q.add(c);
    q.settle(c);
  }
  assert.equal(q.size, 0);
});

test('a source gets an AbortSignal built on demand, aborted at its timeout', async () => {
  let seen: AbortSignal | undefined;
  const src = {
    name: 'slow',
    timeoutMs: 40,
    fetch: (_uid: string, ctx: FetchContext) => {
      seen = ctx.signal;
      return new Promise<never>((_, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true }));
    },
  };
  const agg = new ProfileAggregator({ sources: [src], cache: false });
  try {
    const p = await agg.get('u1');
    assert.equal(p.sources.slow?.status, 'timeout');
    assert.ok(seen instanceof AbortSignal);
    assert.equal(seen.aborted, true);
  } finally {
    await agg.close();
  }
});
