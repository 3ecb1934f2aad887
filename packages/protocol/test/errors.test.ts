import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { errorCodes, KefuError, isKefuError } from '../src/index.js';

test('every error code is documented in docs/errors.md', () => {
  const doc = readFileSync(new URL('../../../docs/errors.md', import.meta.url), 'utf8');
  const missing = Object.keys(errorCodes).filter((c) => !doc.includes('`' + c + '`'));
  assert.deepEqual(missing, []);
});

test('codes follow the KEFU_ERR_ pattern', () => {
  for (const c of Object.keys(errorCodes)) assert.match(c, /^KEFU_ERR_[A-Z0-9_]+$/);
});

test('KefuError carries code, cause and details; default message from the registry', () => {
  const cause = new Error('disk');
  const e = new KefuError('KEFU_ERR_STORE', undefined, { cause, details: { key: 'k' } });
  assert.equal(e.code, 'KEFU_ERR_STORE');
  assert.equal(e.message, errorCodes.KEFU_ERR_STORE);
  assert.equal(e.cause, cause);
  assert.deepEqual(e.details, { key: 'k' });
  assert.ok(e instanceof Error);
  assert.ok(isKefuError(e, 'KEFU_ERR_STORE'));
  assert.ok(!isKefuError(e, 'KEFU_ERR_CLOSED'));
  assert.ok(!isKefuError(new Error('x')));
  assert.deepEqual(JSON.parse(JSON.stringify(e)), { code: 'KEFU_ERR_STORE', message: errorCodes.KEFU_ERR_STORE });
});
