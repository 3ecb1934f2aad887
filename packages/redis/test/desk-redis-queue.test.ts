/**
 * The Desk with its waiting lines in Redis (one RedisQueueStore per tenant) on a real
 * redis-server: VIPs ahead, positions from the Redis queue itself, and a desk restarted on the
 * same LevelDB desk store and the same Redis queues keeps the order.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Desk, LevelDeskStore, type DeskQueueItem, type DeskProfiles } from '@kefu/core';
import { RedisQueueStore } from '../src/index.js';
import { redisServerForFile } from './redis-server.js';

const redis = redisServerForFile({ appendonly: false });
const { skip } = redis;

/** Profiles from a table (visitor id -> VIP level): the desk's priority is the VIP level. */
const vipOf: Record<string, number> = { 'v-vip': 2 };
const profiles: DeskProfiles = { get: async (uid) => ({ vip: vipOf[uid] ?? 0 }) };

function openDesk(location: string, prefix: string, queues: Map<string, RedisQueueStore<DeskQueueItem>>): { desk: Desk; store: LevelDeskStore } {
  const store = new LevelDeskStore({ location });
  const desk = new Desk({
    store, profiles, positionUpdateMs: 0, agingRate: 0,
    queueStore: (tenant) => {
      const q = new RedisQueueStore<DeskQueueItem>(redis.url, { prefix, name: `desk-${tenant}` });
      queues.set(tenant, q);
      return q;
    },
  });
  return { desk, store };
}

test('desk waiting lines in Redis: VIP first, positions from the Redis queue, order kept across a desk restart', { skip, timeout: 30_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-desk-redis-'));
  const prefix = `dq${Date.now()}:`;
  const queues = new Map<string, RedisQueueStore<DeskQueueItem>>();
  let { desk, store } = openDesk(dir, prefix, queues);
  try {
    await desk.open();
    for (const [id, v] of [['c1', 'v1'], ['c2', 'v2'], ['c3', 'v-vip'], ['c4', 'v4']] as const) {
      await desk.startConversation({ id, tenant: 't1', visitor: { id: v, role: 'visitor' } });
      await desk.requestHuman({ tenant: 't1', id: v, role: 'visitor' }, id);
    }
    const order = async (d: Desk): Promise<Array<number | null>> => Promise.all(['c1', 'c2', 'c3', 'c4'].map((c) => d.position(c)));
    assert.deepEqual(await order(desk), [2, 3, 1, 4], 'the VIP waits first, the others by arrival');
    const q = queues.get('t1')!;
    assert.deepEqual(await Promise.all(['c3', 'c1', 'c2', 'c4'].map((c) => q.position(c))), [1, 2, 3, 4], 'the Redis queue holds that order');

    await desk.closeConversation({ tenant: 't1', id: 'v1', role: 'visitor' }, 'c1');
    assert.deepEqual(await order(desk), [null, 2, 1, 3]);
    assert.equal(await q.position('c1'), undefined, 'a closed chat left the Redis queue');

    await desk.close();
    await store.close();
    ({ desk, store } = openDesk(dir, prefix, queues));
    await desk.open();
    assert.deepEqual(await order(desk), [null, 2, 1, 3], 'a restarted desk reads the same order back from Redis');
    await desk.startConversation({ id: 'c5', tenant: 't1', visitor: { id: 'v5', role: 'visitor' } });
    await desk.requestHuman({ tenant: 't1', id: 'v5', role: 'visitor' }, 'c5');
    assert.equal(await desk.position('c5'), 4, 'a new arrival queues behind the restored ones');
  } finally {
    await desk.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
