import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { PriorityQueue } from '../../src/queue/priority-queue.js';
import { MemoryQueueStore } from '../../src/queue/memory-queue-store.js';
import { LevelQueueStore } from '../../src/queue/level-queue-store.js';
import type { QueueStore } from '../../src/queue/queue-store.js';
import type { Lease } from '../../src/queue/priority-queue.js';

/** The reference: a plain array, sorted on demand by priority (desc) then arrival (asc). */
interface ModelItem { id: string; priority: number; seq: number; attempts: number; state: 'ready' | 'leased' | 'dead' }

type Cmd =
  | { t: 'push'; id: string; priority: number }
  | { t: 'lease'; n: number }
  | { t: 'ack'; pick: number }
  | { t: 'nack'; pick: number }
  | { t: 'remove'; id: string }
  | { t: 'position'; id: string }
  | { t: 'requeue'; pick: number };

const ids = fc.constantFrom('a', 'b', 'c', 'd', 'e', 'f', 'g', 'h');
const cmd: fc.Arbitrary<Cmd> = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant('push' as const), id: ids, priority: fc.integer({ min: 0, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('lease' as const), n: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('ack' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('nack' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('remove' as const), id: ids }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('position' as const), id: ids }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('requeue' as const), pick: fc.nat() }) },
);

const MAX_ATTEMPTS = 2;

async function run(store: QueueStore<string>, cmds: Cmd[]): Promise<void> {
  const q = new PriorityQueue<string>({ store, agingRate: 0, maxAttempts: MAX_ATTEMPTS, visibilityMs: 600_000 });
  const model: ModelItem[] = [];
  const leases: Array<Lease<string>> = [];
  let seq = 0;
  const ready = () => model.filter((m) => m.state === 'ready').sort((x, y) => y.priority - x.priority || x.seq - y.seq);
  try {
    for (const c of cmds) {
      switch (c.t) {
        case 'push': {
          const r = await q.push(`payload-${c.id}`, { id: c.id, priority: c.priority });
          const exists = model.some((m) => m.id === c.id);
          assert.equal(r.created, !exists);
          if (!exists) model.push({ id: c.id, priority: c.priority, seq: seq++, attempts: 0, state: 'ready' });
          break;
        }
        case 'lease': {
          const got = await q.lease(c.n);
          const want = ready().slice(0, c.n);
          assert.deepEqual(got.map((g) => g.id), want.map((m) => m.id));
          for (const m of want) { m.state = 'leased'; m.attempts++; }
          for (const g of got) {
            assert.equal(g.payload, `payload-${g.id}`);
            assert.equal(g.attempt, want.find((m) => m.id === g.id)!.attempts);
          }
          leases.push(...got);
          break;
        }
        case 'ack':
        case 'nack': {
          if (leases.length === 0) break;
          const l = leases.splice(c.pick % leases.length, 1)[0]!;
          const m = model.find((x) => x.id === l.id && x.state === 'leased' && x.attempts === l.attempt);
          const op = c.t === 'ack' ? q.ack(l) : q.nack(l, { delayMs: 0 });
          if (m === undefined) {
            await assert.rejects(op);
            break;
          }
          await op;
          if (c.t === 'ack') model.splice(model.indexOf(m), 1);
          else m.state = m.attempts >= MAX_ATTEMPTS ? 'dead' : 'ready';
          break;
        }
        case 'remove': {
          const i = model.findIndex((m) => m.id === c.id);
          assert.equal(await q.remove(c.id), i >= 0);
          if (i >= 0) model.splice(i, 1);
          break;
        }
        case 'position': {
          const i = ready().findIndex((m) => m.id === c.id);
          assert.equal(await q.position(c.id), i < 0 ? undefined : i + 1);
          break;
        }
        case 'requeue': {
          const dead = model.filter((m) => m.state === 'dead');
          if (dead.length === 0) break;
          const m = dead[c.pick % dead.length]!;
          await q.requeue(m.id);
          m.state = 'ready';
          m.attempts = 0;
          break;
        }
      }
      const counts = q.counts();
      assert.equal(counts.ready, model.filter((m) => m.state === 'ready').length);
      assert.equal(counts.leased, model.filter((m) => m.state === 'leased').length);
      assert.equal(counts.dead, model.filter((m) => m.state === 'dead').length);
    }
    assert.deepEqual((await q.peek(20)).map((i) => i.id), ready().map((m) => m.id));
  } finally {
    await q.close();
  }
}

test('PriorityQueue on MemoryQueueStore matches the reference model', async () => {
  await fc.assert(fc.asyncProperty(fc.array(cmd, { maxLength: 60 }), (cmds) => run(new MemoryQueueStore<string>({ initialCapacity: 1 }), cmds)), { numRuns: 300 });
});

test('PriorityQueue on LevelQueueStore matches the reference model', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kefu-queue-prop-'));
  let n = 0;
  try {
    await fc.assert(fc.asyncProperty(fc.array(cmd, { maxLength: 40 }), (cmds) => run(new LevelQueueStore<string>({ location: join(dir, String(n++)), sync: false, initialCapacity: 1 }), cmds)), { numRuns: 40 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
