import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { isKefuError } from '@kefu/protocol';
import { trainIntentModel, wilsonLower } from '../../src/intent/trainer.js';
import { decodeModelInfo } from '../../src/intent/onnx-proto.js';
import { fixtures } from './helpers.js';

const train = join(fixtures, 'zh-train.csv');
const test = join(fixtures, 'zh-test.csv');
const small = { train, test, epochs: 15, dim: 16, featurizer: { hashBits: 12 } };
const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('trainIntentModel', () => {
  it('is deterministic: same seed and data -> identical model bytes', () => {
    const a = trainIntentModel({ ...small, seed: 7 });
    const b = trainIntentModel({ ...small, seed: 7 });
    assert.equal(sha(a.model), sha(b.model));
    const c = trainIntentModel({ ...small, seed: 8 });
    assert.notEqual(sha(a.model), sha(c.model), 'another seed gives other weights');
  });

  it('is deterministic with several ensemble members too', () => {
    const a = trainIntentModel({ ...small, members: 2, seed: 3 });
    const b = trainIntentModel({ ...small, members: 2, seed: 3 });
    assert.equal(sha(a.model), sha(b.model));
  });

  it('learns Chinese without spaces and reports accuracy, labels, train_seconds, model_bytes', () => {
    const { model, report } = trainIntentModel({ ...small, epochs: 30 });
    assert.ok(report.accuracy !== null && report.accuracy >= 0.75, `accuracy ${report.accuracy}`);
    assert.deepEqual(report.labels, ['human_agent', 'opening_hours', 'order_status', 'refund']);
    assert.equal(typeof report.train_seconds, 'number');
    assert.equal(report.model_bytes, model.length);
    assert.equal(report.oos_recall, null, 'no out-of-scope examples in this data');
  });

  it('writes labels, featurizer settings and the threshold into the ONNX metadata', () => {
    const { model, report } = trainIntentModel(small);
    const info = decodeModelInfo(model);
    assert.equal(info.metadata['kefu.format'], 'kefu-intent-hashed/3');
    assert.deepEqual(JSON.parse(info.metadata['kefu.labels']!), report.labels);
    const f = JSON.parse(info.metadata['kefu.featurizer']!);
    assert.deepEqual(
      { hashBits: f.hashBits, wordNgrams: f.wordNgrams, charNgrams: f.charNgrams, lowercase: f.lowercase, normalization: f.normalization, maxChars: f.maxChars },
      { hashBits: 12, wordNgrams: [1, 2], charNgrams: [2, 5], lowercase: true, normalization: 'NFKC', maxChars: 1000 },
    );
    assert.equal(Number(info.metadata['kefu.oos_threshold']), report.threshold);
    assert.deepEqual(info.inputs, ['ids', 'w']);
    assert.deepEqual(info.outputs, ['probs']);
  });

  it('calibrates an out-of-scope threshold when validation data has out-of-scope examples', () => {
    const examples = [
      ...['refund please', 'i want a refund', 'give me my money back', 'refund my order', 'money back now', 'can i get a refund'].map((text) => ({ text, label: 'refund' })),
      ...['where is my order', 'track my package', 'order status', 'when will my order arrive', 'has my parcel shipped', 'where is my parcel'].map((text) => ({ text, label: 'order' })),
    ];
    const validation = [
      { text: 'refund it', label: 'refund' },
      { text: 'where is the parcel', label: 'order' },
      { text: 'what is the weather on mars', label: 'oos' },
      { text: 'sing me a song about cats', label: 'oos' },
    ];
    const { report } = trainIntentModel({ train: examples, validation, epochs: 30, dim: 8, featurizer: { hashBits: 10 } });
    assert.ok(report.threshold > 0, `threshold ${report.threshold}`);
    assert.ok(report.val_oos_recall !== null && report.val_oos_recall >= 0.5);
  });

  it('oosRecallLowerBound asks the validation recall for a margin that depends on its sample size', () => {
    // at 100 out-of-scope examples, a bound of 0.8 needs an observed recall of 0.87
    assert.ok(wilsonLower(0.87, 100) >= 0.8);
    assert.ok(wilsonLower(0.86, 100) < 0.8);
    assert.ok(wilsonLower(0.82, 10_000) >= 0.8, 'a large sample needs little margin');
    const examples = [
      ...['refund please', 'i want a refund', 'give me my money back', 'refund my order', 'money back now'].map((text) => ({ text, label: 'refund' })),
      ...['where is my order', 'track my package', 'order status', 'when will my order arrive', 'where is my parcel'].map((text) => ({ text, label: 'order' })),
    ];
    const validation = [
      { text: 'refund it', label: 'refund' },
      { text: 'where is the parcel', label: 'order' },
      ...['what is the weather on mars', 'sing me a song', 'who won the game', 'tell me a joke about cats'].map((text) => ({ text, label: 'oos' })),
    ];
    const base = { train: examples, validation, epochs: 10, dim: 8, featurizer: { hashBits: 10 } };
    const plain = trainIntentModel({ ...base, oosTargetRecall: 0.5 }).report;
    const bound = trainIntentModel({ ...base, oosRecallLowerBound: 0.5 }).report;
    // 4 examples: a lower bound of 0.5 needs all 4 flagged, the plain target 2 of them
    assert.equal(bound.val_oos_recall, 1);
    assert.ok(bound.threshold >= plain.threshold);
    assert.throws(() => trainIntentModel({ ...base, oosRecallLowerBound: 2 }), { name: 'RangeError', message: 'oosRecallLowerBound must be a number between 0 and 1' });
  });

  it('rejects bad data with KEFU_ERR_INTENT_DATA_INVALID', () => {
    const bad = (e: unknown): boolean => isKefuError(e, 'KEFU_ERR_INTENT_DATA_INVALID');
    assert.throws(() => trainIntentModel({ train: join(fixtures, 'nope.csv') }), bad);
    assert.throws(() => trainIntentModel({ train: [{ text: 'a', label: 'x' }, { text: 'b', label: 'x' }] }), bad);
    assert.throws(() => trainIntentModel({ train: join(fixtures, 'bad-rows.csv') }), bad);
  });

  it('rejects impossible options with exact messages', () => {
    assert.throws(() => trainIntentModel({ ...small, epochs: 0 }), { name: 'RangeError', message: 'epochs must be an integer between 1 and 1000' });
    assert.throws(() => trainIntentModel({ ...small, dim: 1 }), { name: 'RangeError', message: 'dim must be an integer between 2 and 4096' });
    assert.throws(() => trainIntentModel({ ...small, members: 17 }), { name: 'RangeError', message: 'members must be an integer between 1 and 16' });
    assert.throws(() => trainIntentModel({ ...small, dropout: 1 }), { name: 'RangeError', message: 'dropout must be a number between 0 and 0.95' });
    assert.throws(() => trainIntentModel({ ...small, featureDropout: 0.95 }), { name: 'RangeError', message: 'featureDropout must be a number between 0 and 0.9' });
    assert.throws(() => trainIntentModel({ ...small, featurizer: { hashBits: 30 } }), { name: 'RangeError', message: 'featurizer.hashBits must be an integer between 8 and 24' });
  });
});
