import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Batcher } from '../../src/profile/batcher.js';

/**
 * A Batcher on a clock the test moves; the batches it ran. `add` resolves when its uid's batch
 * was sent (the batcher holds uids only; the runner settles lookups).
 */
function paced(windowMs: number, maxSize = 100): { b: { add(uid: string, probe: boolean): Promise<void>; abort(): string[] }; sent: string[][]; clock: { t: number } } {
  const clock = { t: 1000 };
  const sent: string[][] = [];
  const waiting = new Map<string, () => void>();
  const batcher = new Batcher(maxSize, windowMs, (uids) => {
    sent.push(uids);
    for (const u of uids) waiting.get(u)?.();
  }, () => clock.t);
  const b = {
    add: (uid: string, probe: boolean) => new Promise<void>((resolve) => {
      waiting.set(uid, resolve);
      batcher.add(uid, probe);
    }),
    abort: () => batcher.abort(),
  };
  return { b, sent, clock };
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));

test('pacing: a quiet source sends in the same turn; within windowMs of a batch, lookups gather for the next', async () => {
  const { b, sent, clock } = paced(40);
  const first = b.add('a', false);
  await turn();
  assert.deepEqual(sent, [['a']]);
  await first;
  clock.t += 10; // 10 ms after the batch left: the next one may leave 30 ms from now
  const later = [b.add('b', false), b.add('c', false)];
  await turn();
  assert.deepEqual(sent, [['a']], 'sent before the pace allowed');
  await Promise.all(later);
  assert.deepEqual(sent, [['a'], ['b', 'c']]);
  clock.t += 1000; // a quiet spell: no wait again
  const quiet = b.add('d', false);
  await turn();
  assert.deepEqual(sent, [['a'], ['b', 'c'], ['d']]);
  await quiet;
});

test('maxSize sends at once, even inside the pace', async () => {
  const { b, sent } = paced(10_000, 3);
  const all = ['a', 'b', 'c', 'd', 'e', 'f'].map((u) => b.add(u, false));
  assert.deepEqual(sent, [['a', 'b', 'c'], ['d', 'e', 'f']]);
  await Promise.all(all);
});

test('windowMs 0 sends every turn\'s lookups together', async () => {
  const { b, sent } = paced(0);
  const one = [b.add('a', false), b.add('b', false)];
  await turn();
  const two = [b.add('c', false)];
  await turn();
  assert.deepEqual(sent, [['a', 'b'], ['c']]);
  await Promise.all([...one, ...two]);
});

test('abort hands back the waiting uids and cancels the pending send', async () => {
  const { b, sent, clock } = paced(50);
  await b.add('a', false);
  clock.t += 1;
  void b.add('b', false);
  void b.add('c', false);
  assert.deepEqual(b.abort(), ['b', 'c']);
  await new Promise((r) => setTimeout(r, 80));
  assert.deepEqual(sent, [['a']]);
});
