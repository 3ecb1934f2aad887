import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { DueHeap } from '../../src/queue/due-heap.js';
import { IdMap } from '../../src/queue/id-map.js';
import { IdTable } from '../../src/queue/id-table.js';
import { OrderIndex } from '../../src/queue/order-index.js';
import { LocalIndex } from '../../src/queue/local-index.js';
import { isKefuError } from '@kefu/protocol';

for (const dense of [false, true]) test(`DueHeap${dense ? ' (dense positions)' : ''} pops in due order and removes any entry`, () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 50 }), fc.boolean()), { maxLength: 3000 }), (ops) => {
    const h = new DueHeap(dense);
    const model = new Map<number, number>();
    ops.forEach(([due, del], slot) => {
      h.push(slot, due);
      model.set(slot, due);
      if (del && slot > 0) {
        const victim = (slot * 7) % slot;
        assert.equal(h.remove(victim), model.delete(victim));
      }
    });
    for (const [s, d] of model) assert.equal(h.dueOf(s), d);
    let last = -Infinity;
    while (h.size > 0) {
      const s = h.peek();
      const d = h.peekDue();
      assert.ok(d >= last);
      assert.equal(model.get(s), d);
      last = d;
      h.remove(s);
      model.delete(s);
    }
    assert.equal(model.size, 0);
  }), { numRuns: 200 });
});

test('OrderIndex keeps (key, seq) order through inserts, removals and shifts, and ranks exactly', () => {
  const n = 5000;
  const keys = { key: new Float64Array(n), seq: new Uint32Array(n) };
  const ix = new OrderIndex(keys);
  const model: number[] = [];
  const before = (a: number, b: number): number => keys.key[a]! - keys.key[b]! || keys.seq[a]! - keys.seq[b]!;
  let rnd = 12345;
  const next = (m: number): number => { rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0; return rnd % m; };
  for (let s = 0; s < n; s++) {
    keys.key[s] = next(7) - 3;
    keys.seq[s] = s;
    ix.insert(s);
    model.push(s);
    if (s % 3 === 0) {
      const victim = model[next(model.length)]!;
      assert.equal(ix.remove(victim), true);
      model.splice(model.indexOf(victim), 1);
    }
    if (s % 11 === 0) {
      model.sort(before);
      assert.equal(ix.shift(), model.shift() ?? -1);
    }
  }
  model.sort(before);
  assert.equal(ix.size, model.length);
  assert.deepEqual(ix.head(model.length), model);
  for (let i = 0; i < model.length; i += 97) assert.equal(ix.rank(model[i]!), i);
  const gone = Array.from({ length: n }, (_, s) => s).find((s) => !model.includes(s))!;
  assert.equal(ix.rank(gone), -1);
  assert.equal(ix.remove(gone), false);
});

test('OrderIndex fills its chunks when items are appended to several priority bands, and stays exact', () => {
  // The bench's backlog pattern: five priorities in turn, each item at the end of its band.
  const n = 60_000;
  const keys = { key: new Float64Array(n), seq: new Uint32Array(n) };
  const ix = new OrderIndex(keys);
  for (let s = 0; s < n; s++) {
    keys.key[s] = Math.floor(s / 170) / 60_000 - (1 + (s % 5));
    keys.seq[s] = s;
    ix.insert(s);
  }
  // Halving every full chunk left them 56% full here (7.2 bytes per item).
  assert.ok(ix.bytes <= n * 4 * 1.1, `chunks hold ${ix.bytes} bytes for ${n} slots`);
  const model = Array.from({ length: n }, (_, s) => s).sort((a, b) => keys.key[a]! - keys.key[b]! || keys.seq[a]! - keys.seq[b]!);
  assert.deepEqual(ix.head(n), model);
  for (let i = 0; i < n; i += 997) assert.equal(ix.rank(model[i]!), i);
});

test('OrderIndex keeps chunks at least about half full under scattered inserts', () => {
  const n = 60_000;
  const keys = { key: new Float64Array(n), seq: new Uint32Array(n) };
  const ix = new OrderIndex(keys);
  let rnd = 7;
  for (let s = 0; s < n; s++) {
    rnd = (Math.imul(rnd, 1103515245) + 12345) >>> 0;
    keys.key[s] = rnd % 100_000;
    keys.seq[s] = s;
    ix.insert(s);
  }
  assert.ok(ix.bytes <= n * 4 * 2, `chunks hold ${ix.bytes} bytes for ${n} slots`);
  const model = Array.from({ length: n }, (_, s) => s).sort((a, b) => keys.key[a]! - keys.key[b]! || keys.seq[a]! - keys.seq[b]!);
  assert.deepEqual(ix.head(n), model);
});

test('IdTable maps ids to slots through growth, deletes and arena compaction', () => {
  const t = new IdTable(4);
  const live = new Map<string, number>();
  let slot = 0;
  for (let round = 0; round < 6; round++) {
    t.growSlots(slot + 20_000);
    for (let i = 0; i < 20_000; i++) {
      const id = `conversation-${round}-${i}-${'z'.repeat(i % 40)}`;
      t.set(id, slot);
      live.set(id, slot++);
    }
    let k = 0;
    for (const [id, s] of live) {
      if (k++ % 2 === 0) {
        t.deleteSlot(s);
        live.delete(id);
      }
    }
  }
  assert.equal(t.size, live.size);
  for (const [id, s] of live) {
    assert.equal(t.get(id), s);
    assert.equal(t.idOf(s), id);
  }
  assert.equal(t.get('conversation-0-0-'), -1);
  assert.equal(t.get('absent'), -1);
});

test('IdTable sized up front takes its capacity without rehashing, then still grows past it', () => {
  // 3,000 slots: a table of 4,000 cells (load 0.75), not a power of two.
  const t = new IdTable(3000);
  const bytes = t.bytes;
  for (let s = 0; s < 3000; s++) t.set(`id-${s}`, s);
  assert.equal(t.bytes, bytes, 'no growth while within the initial capacity');
  assert.equal(bytes, 65_536 + 3000 * 4 + 4000 * 4, 'arena (at least 64 KiB), offsets, 4,000 cells');
  t.growSlots(6000);
  for (let s = 3000; s < 6000; s++) t.set(`id-${s}`, s);
  for (let s = 0; s < 6000; s += 7) assert.equal(t.get(`id-${s}`), s);
  for (let s = 0; s < 6000; s += 2) t.deleteSlot(s);
  for (let s = 0; s < 6000; s++) assert.equal(t.get(`id-${s}`), s % 2 === 0 ? -1 : s);
  assert.equal(t.size, 3000);
});

test('OrderIndex.load builds an index equal to one built by inserts', () => {
  const n = 3000;
  const keys = { key: new Float64Array(n), seq: new Uint32Array(n) };
  for (let s = 0; s < n; s++) { keys.key[s] = (s * 7919) % 13; keys.seq[s] = s; }
  const a = new OrderIndex(keys);
  for (let s = n - 1; s >= 0; s--) a.insert(s);
  const b = new OrderIndex(keys);
  b.load(b.sort(Int32Array.from({ length: n }, (_, s) => s)));
  assert.deepEqual(b.head(n), a.head(n));
  for (let s = 0; s < n; s += 37) assert.equal(b.rank(s), a.rank(s));
  assert.throws(() => b.load([1]), /empty index/);
  assert.equal(b.shift(), a.shift());
});

test('DueHeap in dense mode takes slots past its initial positions array and clears', () => {
  const h = new DueHeap(true);
  h.push(5000, 30);
  h.push(2, 10);
  h.push(70_000, 20);
  assert.equal(h.dueOf(70_000), 20);
  assert.equal(h.dueOf(123_456), 0, 'a slot past the array is simply not in the heap');
  assert.equal(h.remove(123_456), false);
  assert.deepEqual([h.peek(), h.peekDue()], [2, 10]);
  assert.equal(h.remove(2), true);
  assert.deepEqual([h.peek(), h.peekDue()], [70_000, 20]);
  h.clear();
  assert.equal(h.size, 0);
  assert.equal(h.dueOf(5000), 0);
  h.push(5000, 1);
  assert.deepEqual([h.peek(), h.dueOf(5000)], [5000, 1]);
});

test('IdTable deletes the right cell after a lookup of another id (the remembered cell is only a hint)', () => {
  const t = new IdTable(64);
  for (let s = 0; s < 40; s++) t.set(`c-${s}`, s);
  assert.equal(t.get('c-7'), 7);
  t.deleteSlot(8); // not the slot just looked up
  assert.equal(t.get('c-8'), -1);
  assert.equal(t.get('c-7'), 7);
  t.deleteSlot(7); // the slot just looked up: its cell is reused without hashing again
  assert.equal(t.get('c-7'), -1);
  for (let s = 0; s < 40; s++) if (s !== 7 && s !== 8) assert.equal(t.get(`c-${s}`), s);
  assert.equal(t.size, 38);
  // after a rehash the remembered cell may hold another slot: the delete must still find its own
  for (let s = 40; s < 400; s++) t.set(`c-${s}`, s);
  assert.equal(t.get('c-3'), 3);
  for (let s = 400; s < 1200; s++) t.set(`c-${s}`, s);
  t.deleteSlot(5);
  assert.equal(t.get('c-5'), -1);
  assert.equal(t.get('c-3'), 3);
});

test('IdMap maps ids to slots like IdTable (the memory store\'s id index)', () => {
  const m = new IdMap();
  const t = new IdTable(16);
  t.growSlots(500);
  for (let s = 0; s < 500; s++) {
    m.set(`id-${s}`, s);
    t.set(`id-${s}`, s);
  }
  for (let s = 0; s < 500; s += 3) {
    m.deleteSlot(s);
    t.deleteSlot(s);
  }
  m.deleteSlot(10_000); // a slot that holds nothing
  assert.equal(m.size, t.size);
  for (let s = 0; s < 500; s++) {
    assert.equal(m.get(`id-${s}`), t.get(`id-${s}`));
    if (s % 3 !== 0) assert.equal(m.idOf(s), `id-${s}`);
  }
  assert.throws(() => m.idOf(0), /holds no id/);
  assert.equal(m.bytes, 0);
});

test('OrderIndex reuses an emptied chunk and stays exact when drained and refilled', () => {
  const n = 2000;
  const keys = { key: new Float64Array(n), seq: new Uint32Array(n) };
  for (let s = 0; s < n; s++) { keys.key[s] = -(s % 5); keys.seq[s] = s; }
  const ix = new OrderIndex(keys);
  for (let round = 0; round < 4; round++) {
    const slots = Array.from({ length: 700 }, (_, i) => (round * 700 + i) % n);
    for (const s of slots) ix.insert(s);
    if (round % 2 === 1) for (const s of slots.slice(0, 100)) assert.equal(ix.remove(s), true);
    const expect = (round % 2 === 1 ? slots.slice(100) : slots).sort((a, b) => keys.key[a]! - keys.key[b]! || keys.seq[a]! - keys.seq[b]!);
    assert.deepEqual(ix.head(n), expect);
    const got: number[] = [];
    for (let s = ix.shift(); s >= 0; s = ix.shift()) got.push(s);
    assert.deepEqual(got, expect);
    assert.equal(ix.size, 0);
  }
});

test('LocalIndex keeps sequences as 32-bit offsets and moves the base when a sequence falls outside', () => {
  const ix = new LocalIndex(16);
  const B = 5e9; // past 2^32: a store that has taken billions of pushes
  const seqs = [B, B + 1, B - 10, B + 2];
  const slots = seqs.map((seq, i) => ix.alloc(`i${i}`, 0, seq, 5));
  slots.forEach((s, i) => assert.equal(ix.seqOf(s), seqs[i]));
  for (const s of slots) ix.toReady(s);
  const inOrder = (): number[] => ix.ready.head(100).map((s) => ix.seqOf(s));
  assert.deepEqual(inOrder(), [B - 10, B, B + 1, B + 2], 'equal keys: FIFO by sequence');
  // 3 billion later, with the first items still waiting: the base moves, nothing reorders
  const far = ix.alloc('far', 0, B + 3e9, 5);
  ix.toReady(far);
  assert.deepEqual(inOrder(), [B - 10, B, B + 1, B + 2, B + 3e9]);
  slots.forEach((s, i) => assert.equal(ix.seqOf(s), seqs[i]));
  assert.equal(ix.ready.rank(far), 4);
  // a spread past 2^32 cannot be held: refused before any slot is taken
  const live = ix.live;
  assert.throws(() => ix.alloc('too-far', 0, B + 5e9, 5), (err: unknown) => isKefuError(err, 'KEFU_ERR_STORE'));
  assert.equal(ix.live, live);
  assert.equal(ix.lookup('too-far'), -1);
  // once the old items leave, the same sequence fits
  for (const s of slots) ix.release(s);
  const ok = ix.alloc('too-far', 0, B + 5e9, 5);
  ix.toReady(ok);
  assert.deepEqual(inOrder(), [B + 3e9, B + 5e9]);
});
