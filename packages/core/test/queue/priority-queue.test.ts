import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PriorityQueue } from '../../src/queue/priority-queue.js';
import { MemoryQueueStore } from '../../src/queue/memory-queue-store.js';
import { MAX_PRIORITY, backoffDelay } from '../../src/queue/options.js';
import type { KefuError } from '@kefu/protocol';

const code = (c: string) => (err: unknown): boolean => { assert.equal((err as KefuError).code, c); return true; };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

test('higher priority first, FIFO within a priority; position and peek agree', async () => {
  const q = new PriorityQueue<string>({ agingRate: 0 });
  for (let i = 0; i < 9; i++) await q.push(`p${i}`, { id: `i${i}`, priority: i % 3 });
  assert.equal(await q.position('i2'), 1);
  assert.equal(await q.position('i5'), 2);
  assert.equal(await q.position('i0'), 7);
  assert.deepEqual((await q.peek(3)).map((x) => x.id), ['i2', 'i5', 'i8']);
  const got = await q.lease(9);
  assert.deepEqual(got.map((g) => g.id), ['i2', 'i5', 'i8', 'i1', 'i4', 'i7', 'i0', 'i3', 'i6']);
  assert.equal(q.size, 9);
  await q.close();
});

test('aging lets a long-waiting low priority item pass newer high priority ones', async () => {
  // 1000 points per second: 20 ms of waiting is worth 20 priority points.
  const q = new PriorityQueue<string>({ agingRate: 1000 });
  await q.push('old', { id: 'old', priority: 0 });
  await sleep(60);
  await q.push('new', { id: 'new', priority: 10 });
  assert.deepEqual((await q.lease(2)).map((g) => g.id), ['old', 'new']);
  await q.close();
});

test('a push with a known id is a no-op that returns the first', async () => {
  const q = new PriorityQueue<string>();
  const pushed: string[] = [];
  q.on('pushed', (e) => pushed.push(e.id));
  assert.deepEqual(await q.push('a', { id: 'x', priority: 1 }), { id: 'x', created: true });
  assert.deepEqual(await q.push('b', { id: 'x', priority: 9 }), { id: 'x', created: false });
  assert.equal((await q.get('x'))?.payload, 'a');
  assert.deepEqual(pushed, ['x']);
  const [auto] = await q.pushMany([{ payload: 'c' }]);
  assert.ok(auto!.id.length > 0 && auto!.created);
  await q.close();
});

test('ack, events, and drained', async () => {
  const q = new PriorityQueue<number>();
  const seen: string[] = [];
  q.on('leased', (l) => seen.push(`leased:${l.id}`)).on('acked', (id) => seen.push(`acked:${id}`)).on('drained', () => seen.push('drained'));
  await q.push(1, { id: 'a' });
  const [l] = await q.lease();
  await q.ack(l!);
  assert.deepEqual(seen, ['leased:a', 'acked:a', 'drained']);
  await assert.rejects(q.ack(l!), code('KEFU_ERR_QUEUE_UNKNOWN_LEASE'));
  await assert.rejects(q.ack('never'), code('KEFU_ERR_QUEUE_UNKNOWN_LEASE'));
  await q.close();
});

test('an unacked lease expires by the timer, counts its attempt, and goes dead after maxAttempts', async () => {
  const q = new PriorityQueue<string>({ visibilityMs: 30, maxAttempts: 2 });
  const expired: number[] = [];
  const dead: Array<[string, number, string]> = [];
  q.on('expired', (_id, attempt) => expired.push(attempt)).on('dead', (id, n, why) => dead.push([id, n, why]));
  await q.push('x', { id: 'a' });
  const [l1] = await q.lease();
  await until(() => expired.length === 1);
  await assert.rejects(q.ack(l1!), code('KEFU_ERR_QUEUE_LEASE_EXPIRED'));
  const [l2] = await q.lease();
  assert.equal(l2!.attempt, 2);
  await until(() => dead.length === 1);
  assert.deepEqual(dead, [['a', 2, 'expired']]);
  assert.deepEqual((await q.listDead()).map((d) => d.id), ['a']);
  assert.equal(q.size, 0);
  await q.requeue('a');
  assert.equal((await q.lease())[0]!.attempt, 1);
  await assert.rejects(q.requeue('a'), code('KEFU_ERR_QUEUE_UNKNOWN_ITEM'));
  await q.close();
});

test('nack retries after the delay (timer), keeps priority, and dead-letters at maxAttempts', async () => {
  const q = new PriorityQueue<string>({ maxAttempts: 2, agingRate: 0 });
  await q.push('a', { id: 'a', priority: 5 });
  await q.push('b', { id: 'b', priority: 1 });
  const [a1] = await q.lease();
  const nacked: number[] = [];
  q.on('nacked', (_id, _a, at) => nacked.push(at));
  await q.nack(a1!, { delayMs: 300 });
  assert.equal((await q.get('a'))?.state, 'delayed');
  assert.equal(await q.position('a'), undefined);
  await until(() => q.counts().delayed === 0);
  const [a2] = await q.lease();
  assert.equal(a2!.id, 'a');
  assert.equal(a2!.priority, 5);
  const dead: string[] = [];
  q.on('dead', (id, _n, why) => dead.push(`${id}:${why}`));
  await q.nack('a');
  assert.deepEqual(dead, ['a:nack']);
  await q.close();
});

test('backoff doubles from baseMs, is capped by maxMs, and jitter only shortens it', () => {
  const b = { baseMs: 100, maxMs: 1000, jitter: 0.5 };
  assert.equal(backoffDelay(b, 1, () => 0), 100);
  assert.equal(backoffDelay(b, 3, () => 0), 400);
  assert.equal(backoffDelay(b, 10, () => 0), 1000);
  assert.equal(backoffDelay(b, 2, () => 1), 100);
  assert.equal(backoffDelay(b, 2000, () => 0), 1000);
});

test('delayed pushes become ready on time; pause stops leasing; iterate holds at most `concurrency`', async () => {
  const q = new PriorityQueue<number>();
  await q.push(1, { id: 'later', delay: 400 });
  assert.deepEqual(await q.lease(), []);
  q.pause();
  await q.push(2, { id: 'now' });
  assert.deepEqual(await q.lease(), []);
  q.resume();
  const ac = new AbortController();
  const got: string[] = [];
  let maxHeld = 0;
  let held = 0;
  const acks: Array<Promise<void>> = [];
  for await (const l of q.iterate({ concurrency: 2, signal: ac.signal })) {
    held++;
    maxHeld = Math.max(maxHeld, held);
    got.push(l.id);
    acks.push(sleep(5).then(() => { held--; return q.ack(l); }));
    if (got.length === 2) ac.abort();
  }
  await Promise.all(acks);
  assert.deepEqual(got.sort(), ['later', 'now']);
  assert.ok(maxHeld <= 2);
  await q.close();
});

test('remove works in every state and emits removed', async () => {
  const q = new PriorityQueue<number>();
  await q.push(1, { id: 'a' });
  await q.push(2, { id: 'b' });
  await q.lease();
  const removed: string[] = [];
  q.on('removed', (id) => removed.push(id));
  assert.equal(await q.remove('a'), true);
  assert.equal(await q.remove('b'), true);
  assert.equal(await q.remove('b'), false);
  assert.deepEqual(removed, ['a', 'b']);
  assert.equal(q.size, 0);
  await q.close();
});

test('bad input: priority, ids, payload size, options', async () => {
  const q = new PriorityQueue<unknown>({ maxPayloadBytes: 100, maxLeaseBatch: 10 });
  await assert.rejects(q.push('x', { priority: 1.5 }), code('KEFU_ERR_QUEUE_INVALID_PRIORITY'));
  await assert.rejects(q.push('x', { priority: MAX_PRIORITY + 1 }), code('KEFU_ERR_QUEUE_INVALID_PRIORITY'));
  await assert.rejects(q.push('x', { priority: Number.NaN }), code('KEFU_ERR_QUEUE_INVALID_PRIORITY'));
  await assert.rejects(q.push('x', { id: '' }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push('x', { id: 'é' }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push('x', { id: 'a'.repeat(256) }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push('x', { delay: -1 }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push('x', { maxAttempts: 0 }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push('x', null as never), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.pushMany([null as never]), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push('x'.repeat(101)), code('KEFU_ERR_PAYLOAD_TOO_LARGE'));
  await assert.rejects(q.push({ s: 'x'.repeat(95) }), code('KEFU_ERR_PAYLOAD_TOO_LARGE'));
  await assert.rejects(q.push('é'.repeat(51)), code('KEFU_ERR_PAYLOAD_TOO_LARGE'));
  await q.push('x'.repeat(100));
  await assert.rejects(q.push(10n), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.push(undefined), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.lease(0), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.lease(11), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.lease(1, { visibilityMs: 0 }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.nack('x', { delayMs: -5 }), code('KEFU_ERR_INVALID_ARGUMENT'));
  await assert.rejects(q.ack({ id: 'x' } as never), code('KEFU_ERR_INVALID_ARGUMENT'));
  assert.equal(q.size, 1);
  await q.close();

  assert.throws(() => new PriorityQueue({ agingRate: -1 }), { name: 'RangeError', message: 'agingRate must be a finite number >= 0' });
  assert.throws(() => new PriorityQueue({ agingRate: Infinity }), { name: 'RangeError', message: 'agingRate must be a finite number >= 0' });
  assert.throws(() => new PriorityQueue({ visibilityMs: 0 }), { name: 'RangeError', message: 'visibilityMs must be a positive integer' });
  assert.throws(() => new PriorityQueue({ maxAttempts: 70_000 }), { name: 'RangeError', message: 'maxAttempts must be an integer from 1 to 65535' });
  assert.throws(() => new PriorityQueue({ defaultPriority: 0.5 }), { name: 'RangeError', message: 'defaultPriority must be an integer from -1000000 to 1000000' });
  assert.throws(() => new PriorityQueue({ maxPayloadBytes: 0 }), { name: 'RangeError', message: 'maxPayloadBytes must be a positive integer' });
  assert.throws(() => new PriorityQueue({ maxLeaseBatch: 1.5 }), { name: 'RangeError', message: 'maxLeaseBatch must be a positive integer' });
  assert.throws(() => new PriorityQueue({ backoff: { baseMs: 10, maxMs: 5 } }), { name: 'RangeError', message: 'backoff.baseMs must not exceed backoff.maxMs' });
  assert.throws(() => new PriorityQueue({ backoff: { baseMs: -1 } }), { name: 'RangeError', message: 'backoff.baseMs and backoff.maxMs must be integers >= 0' });
  assert.throws(() => new PriorityQueue({ backoff: { jitter: 2 } }), { name: 'RangeError', message: 'backoff.jitter must be between 0 and 1' });
  assert.throws(() => new PriorityQueue({ store: {} as never }), { name: 'TypeError', message: 'store must be a QueueStore or a function returning one' });
  assert.throws(() => new MemoryQueueStore({ initialCapacity: 0 }), { name: 'RangeError', message: 'initialCapacity must be a positive integer' });
});

test('use after close is KEFU_ERR_CLOSED; close is idempotent and emits closed', async () => {
  const q = new PriorityQueue<number>({ store: () => new MemoryQueueStore() });
  await q.push(1);
  let closed = 0;
  q.on('closed', () => closed++);
  await Promise.all([q.close(), q.close()]);
  assert.equal(closed, 1);
  await assert.rejects(q.push(2), code('KEFU_ERR_CLOSED'));
  await assert.rejects(q.lease(), code('KEFU_ERR_CLOSED'));
  await assert.rejects(q.ack('a'), code('KEFU_ERR_CLOSED'));
  await assert.rejects(q.position('a'), code('KEFU_ERR_CLOSED'));
  await assert.rejects(q.open(), code('KEFU_ERR_CLOSED'));
  const it = q.iterate();
  assert.equal((await it.next()).done, true);
});

test('iterate rejects an impossible concurrency with an exact RangeError', async () => {
  const q = new PriorityQueue<number>({ maxLeaseBatch: 8 });
  await assert.rejects(q.iterate({ concurrency: 0 }).next(), { name: 'RangeError', message: 'concurrency must be an integer from 1 to 8' });
  await assert.rejects(q.iterate({ concurrency: 9 }).next(), { name: 'RangeError', message: 'concurrency must be an integer from 1 to 8' });
  await q.close();
});

test('a nack of an expired lease is refused and the item stays in the queue', async () => {
  const q = new PriorityQueue<number>({ visibilityMs: 20 });
  await q.push(1, { id: 'a' });
  let expired = false;
  q.on('expired', () => { expired = true; });
  const [l] = await q.lease();
  await until(() => expired);
  await assert.rejects(q.nack(l!), code('KEFU_ERR_QUEUE_LEASE_EXPIRED'));
  assert.equal((await q.get('a'))?.state, 'ready');
  await q.close();
});
