/** The demo ERP switch's pure parts: KEFU_DEMO_ERP_FAULTS parsing and the preset names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkErpFaults, erpDemoModes, erpFaultsFromEnv } from '../src/demo-erp.js';

test('KEFU_DEMO_ERP_FAULTS: unset or blank means none; JSON fault settings are checked', () => {
  assert.equal(erpFaultsFromEnv(undefined), undefined);
  assert.equal(erpFaultsFromEnv('  '), undefined);
  assert.deepEqual(erpFaultsFromEnv('{"mode":"next","count":1,"status":402}'), { mode: 'next', count: 1, status: 402 });
  assert.throws(() => erpFaultsFromEnv('decline'), {
    name: 'TypeError', message: 'KEFU_DEMO_ERP_FAULTS must be JSON fault settings, e.g. {"mode":"next","count":1,"status":402}; got "decline"',
  });
  assert.throws(() => erpFaultsFromEnv('{"mode":"rate","rate":2}'), { name: 'RangeError', message: 'KEFU_DEMO_ERP_FAULTS: rate must be a number between 0 and 1' });
  assert.throws(() => erpFaultsFromEnv('null'), { name: 'TypeError', message: "KEFU_DEMO_ERP_FAULTS: mode must be 'off', 'always', 'next' or 'rate'" });
});

test('every console preset is valid fault settings', () => {
  for (const [name, s] of Object.entries(erpDemoModes)) assert.deepEqual(checkErpFaults(s, name), s);
});
