import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sweepSlices } from '../../src/hub/heartbeat.js';

test('sweepSlices: one turn per 100 ms of the interval, at least 1, at most 300', () => {
  assert.equal(sweepSlices(10), 1);
  assert.equal(sweepSlices(199), 1);
  assert.equal(sweepSlices(200), 2);
  assert.equal(sweepSlices(1_000), 10);
  assert.equal(sweepSlices(30_000), 300);
  assert.equal(sweepSlices(600_000), 300);
});
