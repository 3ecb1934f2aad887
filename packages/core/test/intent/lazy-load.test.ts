import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const index = fileURLToPath(new URL('../../src/index.ts', import.meta.url));

// In a fresh process: import @kefu/core's index, then look for onnxruntime-node both in the
// CommonJS module cache and among the shared libraries mapped into the process; then load it on
// purpose to prove the probe would have seen it.
const probe = `
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
const loaded = () => ({
  cache: Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('onnxruntime-node')),
  mapped: readFileSync('/proc/self/maps', 'utf8').includes('onnxruntime'),
});
const core = await import(${JSON.stringify(index)});
const before = loaded();
const exportsIntent = typeof core.IntentClassifier === 'function' && typeof core.trainIntentModel === 'function';
await import('onnxruntime-node');
console.log(JSON.stringify({ before, after: loaded(), exportsIntent }));
`;

describe('lazy onnxruntime-node', () => {
  it('importing @kefu/core does not load onnxruntime-node', () => {
    const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { before: { cache: boolean; mapped: boolean }; after: { cache: boolean; mapped: boolean }; exportsIntent: boolean };
    assert.equal(res.exportsIntent, true);
    assert.deepEqual(res.before, { cache: false, mapped: false });
    assert.deepEqual(res.after, { cache: true, mapped: true }, 'the probe detects the runtime once it is loaded');
  });
});
