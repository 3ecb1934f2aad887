import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CidSet, cidHash } from '../../src/conversation/cid-set.js';
import { COLLIDING } from './fixtures/colliding-cids.js';

test('CidSet: a miss is certain, every added cid is found, through growth from 8 slots to 16,384', () => {
  const set = new CidSet();
  const added = Array.from({ length: 5_000 }, (_, i) => `c-${i}-${'x'.repeat(i % 40)}`);
  for (const [i, cid] of added.entries()) {
    set.add(cid);
    assert.equal(set.size, i + 1);
  }
  for (const cid of added) assert.equal(set.has(cid), true, cid);
  let misses = 0;
  for (let i = 0; i < 5_000; i++) if (!set.has(`other-${i}`)) misses++;
  assert.equal(misses, 5_000, 'no 32-bit collision among these 10,000 ids');
  set.add(added[0]!);
  assert.equal(set.size, 5_000, 'adding a cid twice counts once');
});

test('CidSet: cids sharing a hash are one entry and both are reported present (the caller asks the disk)', () => {
  assert.equal(cidHash(COLLIDING[0]), cidHash(COLLIDING[1]));
  assert.notEqual(COLLIDING[0], COLLIDING[1]);
  const set = new CidSet();
  set.add(COLLIDING[0]);
  assert.equal(set.has(COLLIDING[1]), true);
  assert.equal(set.size, 1);
  assert.notEqual(cidHash(''), 0, 'no hash is 0: 0 marks an empty slot');
});
