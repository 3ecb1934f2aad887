/**
 * The conformance suite every QueueStore must pass (memory, LevelDB, Redis, third parties).
 * It drives the store directly with explicit clocks, so it needs no timers:
 *
 *   import { test, describe } from 'node:test';
 *   queueStoreSuite({ test, describe }, { name: 'MyStore', factory: async () => ({ store: new MyStore(), cleanup }) });
 */
import assert from 'node:assert/strict';
import type { QueueStore } from '../queue/queue-store.js';
import type { PushRecord } from '../queue/types.js';
import type { SuiteTestApi } from './suite-api.js';


export interface QueueStoreFixture {
  /** A fresh store, not opened yet, on its own empty storage. */
  store: QueueStore<unknown>;
  /** A new store instance on the same storage (durable stores: used after closing `store`). */
  reopen?: () => QueueStore<unknown>;
  /** Frees the storage (temp dirs, keys) after the test. */
  cleanup?: () => Promise<void>;
}

export interface QueueStoreSuiteOptions {
  name: string;
  factory: () => QueueStoreFixture | Promise<QueueStoreFixture>;
}

const T0 = 1_700_000_000_000;

function rec(id: string, priority = 0, opts: Partial<PushRecord<unknown>> = {}): PushRecord<unknown> {
  return { id, payload: { id }, priority, orderKey: -priority, enqueuedAt: T0, availableAt: T0, maxAttempts: 3, ...opts };
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (err: { code?: string }) => {
    assert.equal(err.code, code);
    return true;
  });
}

export function queueStoreSuite(api: SuiteTestApi, options: QueueStoreSuiteOptions): void {
  const { describe, test } = api;

  async function withStore(fn: (store: QueueStore<unknown>, fx: QueueStoreFixture) => Promise<void>): Promise<void> {
    const fx = await options.factory();
    try {
      await fx.store.open();
      await fn(fx.store, fx);
    } finally {
      await fx.store.close().catch(() => undefined);
      await fx.cleanup?.();
    }
  }

  describe(`QueueStore conformance: ${options.name}`, () => {
    test('leases by order key, then FIFO by sequence', () => withStore(async (s) => {
      await s.push([rec('a', 1), rec('b', 5), rec('c', 1), rec('d', 5), rec('e', 3)]);
      const got = await s.lease(5, T0, 1000);
      assert.deepEqual(got.map((g) => g.id), ['b', 'd', 'e', 'a', 'c']);
      assert.deepEqual(got[0]!.payload, { id: 'b' });
      assert.equal(got[0]!.attempt, 1);
      assert.equal(got[0]!.expiresAt, T0 + 1000);
      assert.deepEqual(await s.lease(1, T0, 1000), []);
    }));

    test('a push with an id already stored changes nothing', () => withStore(async (s) => {
      const [first] = await s.push([rec('x', 1)]);
      assert.deepEqual(first, { id: 'x', created: true, state: 'ready' });
      const [again] = await s.push([rec('x', 9, { payload: 'other' })]);
      assert.equal(again!.created, false);
      const item = await s.get('x');
      assert.equal(item?.priority, 1);
      assert.deepEqual(item?.payload, { id: 'x' });
      const [dupInBatch, dupInBatch2] = await s.push([rec('y'), rec('y')]);
      assert.equal(dupInBatch!.created, true);
      assert.equal(dupInBatch2!.created, false);
      assert.equal(s.counts().ready, 2);
    }));

    test('ack deletes; a second ack or an unknown id is KEFU_ERR_QUEUE_UNKNOWN_LEASE', () => withStore(async (s) => {
      await s.push([rec('a')]);
      const [g] = await s.lease(1, T0, 1000);
      await s.ack('a', g!.attempt, T0 + 1);
      assert.equal(await s.get('a'), undefined);
      await rejectsWith(s.ack('a', 1, T0 + 2), 'KEFU_ERR_QUEUE_UNKNOWN_LEASE');
      await rejectsWith(s.ack('nope', undefined, T0), 'KEFU_ERR_QUEUE_UNKNOWN_LEASE');
      await s.push([rec('b')]);
      await rejectsWith(s.ack('b', undefined, T0), 'KEFU_ERR_QUEUE_UNKNOWN_LEASE');
      assert.deepEqual(s.counts(), { ready: 1, delayed: 0, leased: 0, dead: 0 });
    }));

    test('an expired lease cannot be acked and the item returns with its attempt counted', () => withStore(async (s) => {
      await s.push([rec('a')]);
      await s.lease(1, T0, 100);
      assert.equal(s.nextDueAt(), T0 + 100);
      await rejectsWith(s.ack('a', 1, T0 + 100), 'KEFU_ERR_QUEUE_LEASE_EXPIRED');
      const out = await s.tick(T0 + 100);
      assert.deepEqual(out.expired, [{ id: 'a', attempt: 1, dead: false }]);
      await rejectsWith(s.ack('a', 1, T0 + 101), 'KEFU_ERR_QUEUE_LEASE_EXPIRED');
      const item = await s.get('a');
      assert.equal(item?.state, 'ready');
      assert.equal(item?.attempts, 1);
      const [g2] = await s.lease(1, T0 + 200, 100);
      assert.equal(g2!.attempt, 2);
      await rejectsWith(s.ack('a', 1, T0 + 201), 'KEFU_ERR_QUEUE_LEASE_EXPIRED');
      await s.ack('a', 2, T0 + 201);
      assert.equal(s.counts().leased, 0);
    }));

    test('expiry at maxAttempts moves the item to dead-letter; requeue resets it', () => withStore(async (s) => {
      await s.push([rec('a', 0, { maxAttempts: 2 })]);
      for (let i = 0; i < 2; i++) {
        await s.lease(1, T0 + i * 1000, 10);
        await s.tick(T0 + i * 1000 + 10);
      }
      assert.equal((await s.get('a'))?.state, 'dead');
      assert.deepEqual(s.counts(), { ready: 0, delayed: 0, leased: 0, dead: 1 });
      assert.deepEqual((await s.listDead(10)).map((d) => [d.id, d.attempts]), [['a', 2]]);
      assert.deepEqual(await s.lease(1, T0 + 5000, 10), []);
      assert.equal(await s.requeueDead('a', T0 + 5000), true);
      assert.equal(await s.requeueDead('a', T0 + 5000), false);
      const [g] = await s.lease(1, T0 + 5000, 10);
      assert.equal(g!.attempt, 1);
    }));

    test('nack delays, readies or kills the item, keeping its place', () => withStore(async (s) => {
      await s.push([rec('a', 1), rec('b', 1), rec('c', 1)]);
      const [a] = await s.lease(1, T0, 1000);
      await s.nack('a', a!.attempt, T0 + 1, { availableAt: T0 + 500, dead: false });
      assert.equal((await s.get('a'))?.state, 'delayed');
      assert.equal(s.nextDueAt(), T0 + 500);
      assert.deepEqual((await s.lease(1, T0 + 2, 1000)).map((g) => g.id), ['b']);
      const out = await s.tick(T0 + 500);
      assert.equal(out.promoted, 1);
      // a was pushed before c, so it is served before c again.
      assert.deepEqual((await s.peek(2)).map((i) => i.id), ['a', 'c']);
      const [a2] = await s.lease(1, T0 + 501, 1000);
      await s.nack('a', a2!.attempt, T0 + 502, { availableAt: T0, dead: true });
      assert.equal((await s.get('a'))?.state, 'dead');
      await rejectsWith(s.nack('a', 2, T0 + 503, { availableAt: T0, dead: false }), 'KEFU_ERR_QUEUE_UNKNOWN_LEASE');
    }));

    test('delayed pushes wait for their due time', () => withStore(async (s) => {
      await s.push([rec('later', 9, { availableAt: T0 + 1000 }), rec('now', 0)]);
      assert.deepEqual(s.counts(), { ready: 1, delayed: 1, leased: 0, dead: 0 });
      assert.equal(await s.position('later'), undefined);
      assert.deepEqual((await s.lease(5, T0, 100)).map((g) => g.id), ['now']);
      await s.ack('now', 1, T0 + 1);
      await s.tick(T0 + 999);
      assert.equal(s.counts().delayed, 1);
      await s.tick(T0 + 1000);
      assert.deepEqual((await s.lease(5, T0 + 1000, 100)).map((g) => g.id), ['later']);
    }));

    test('position is the 1-based place among ready items; remove works in any state', () => withStore(async (s) => {
      await s.push(['a', 'b', 'c', 'd'].map((id, i) => rec(id, i % 2)));
      assert.equal(await s.position('b'), 1);
      assert.equal(await s.position('d'), 2);
      assert.equal(await s.position('a'), 3);
      assert.equal(await s.position('zz'), undefined);
      assert.equal(await s.remove('d'), true);
      assert.equal(await s.position('a'), 2);
      await s.lease(1, T0, 100);
      assert.equal(await s.position('b'), undefined);
      assert.equal(await s.remove('b'), true);
      assert.equal(await s.remove('b'), false);
      assert.equal(s.nextDueAt(), undefined);
      assert.deepEqual(s.counts(), { ready: 2, delayed: 0, leased: 0, dead: 0 });
    }));

    test('concurrent leases never hand out the same item twice', () => withStore(async (s) => {
      await s.push(Array.from({ length: 200 }, (_, i) => rec(`i${i}`, i % 5)));
      const batches = await Promise.all(Array.from({ length: 20 }, () => s.lease(15, T0, 1000)));
      const ids = batches.flat().map((g) => g.id);
      assert.equal(ids.length, 200);
      assert.equal(new Set(ids).size, 200);
    }));

    test('bad arguments reject with KEFU_ERR_INVALID_ARGUMENT', () => withStore(async (s) => {
      await rejectsWith(s.push([{ ...rec('a'), orderKey: NaN }]), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(s.push([{ ...rec('a'), maxAttempts: 0 }]), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(s.push([{ ...rec('a'), id: '' }]), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(s.lease(-1, T0, 10), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(s.lease(1, T0, 0), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(s.ack('a', 0, T0), 'KEFU_ERR_INVALID_ARGUMENT');
      await rejectsWith(s.peek(-1), 'KEFU_ERR_INVALID_ARGUMENT');
      assert.equal(s.counts().ready, 0);
    }));

    test('use before open is KEFU_ERR_NOT_OPEN, after close KEFU_ERR_CLOSED', async () => {
      const fx = await options.factory();
      try {
        await rejectsWith(fx.store.push([rec('a')]), 'KEFU_ERR_NOT_OPEN');
        await fx.store.open();
        await fx.store.close();
        await fx.store.close();
        await rejectsWith(fx.store.push([rec('a')]), 'KEFU_ERR_CLOSED');
        await rejectsWith(fx.store.lease(1, T0, 10), 'KEFU_ERR_CLOSED');
        await rejectsWith(fx.store.open(), 'KEFU_ERR_CLOSED');
      } finally {
        await fx.cleanup?.();
      }
    });

    test('durable stores recover ready, leased, delayed and dead items on reopen', async () => {
      const fx = await options.factory();
      try {
        if (!fx.store.supports.durable || fx.reopen === undefined) return;
        const s = fx.store;
        await s.open();
        await s.push([rec('r1', 1), rec('r2', 2), rec('l1', 3), rec('d1', 0, { availableAt: T0 + 10_000 }), rec('x1', 0, { maxAttempts: 1 }), rec('gone', 0)]);
        await s.lease(1, T0, 60_000); // l1
        await s.lease(1, T0, 60_000); // r2
        await s.ack('r2', 1, T0 + 1);
        const dead = await s.lease(2, T0, 10); // r1 then x1
        assert.deepEqual(dead.map((g) => g.id), ['r1', 'x1']);
        await s.nack('r1', 1, T0 + 1, { availableAt: T0 + 1, dead: false });
        await s.tick(T0 + 10); // x1 expires at its last attempt
        await s.remove('gone');
        await s.close();
        const s2 = fx.reopen();
        await s2.open();
        try {
          if (s2.supports.shared) {
            // A shared store must not take back a lease on reopen: another process may hold it.
            // Leases of a crashed consumer come back when they expire (tick), as in SQS.
            assert.deepEqual(s2.counts(), { ready: 1, delayed: 1, leased: 1, dead: 1 });
            assert.equal((await s2.get('l1'))?.state, 'leased');
            assert.equal((await s2.get('x1'))?.state, 'dead');
            assert.equal(await s2.get('r2'), undefined);
            assert.equal(await s2.get('gone'), undefined);
            assert.deepEqual((await s2.peek(5)).map((i) => i.id), ['r1']);
            return;
          }
          assert.deepEqual(s2.counts(), { ready: 2, delayed: 1, leased: 0, dead: 1 });
          const l1 = await s2.get('l1');
          assert.equal(l1?.state, 'ready');
          assert.equal(l1?.attempts, 1);
          assert.deepEqual(l1?.payload, { id: 'l1' });
          assert.equal((await s2.get('d1'))?.dueAt, T0 + 10_000);
          assert.equal((await s2.get('x1'))?.state, 'dead');
          assert.equal(await s2.get('r2'), undefined);
          assert.equal(await s2.get('gone'), undefined);
          assert.deepEqual((await s2.peek(5)).map((i) => i.id), ['l1', 'r1']);
          const [g] = await s2.lease(1, T0 + 20, 100);
          assert.equal(g!.attempt, 2);
          const [p] = await s2.push([rec('new')]);
          assert.equal(p!.created, true);
          assert.deepEqual((await s2.peek(5)).map((i) => i.id), ['r1', 'new']);
        } finally {
          await s2.close();
        }
      } finally {
        await fx.store.close().catch(() => undefined);
        await fx.cleanup?.();
      }
    });
  });
}
