import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainIntentModel } from '../../src/intent/trainer.js';
import { decodeModelInfo } from '../../src/intent/onnx-proto.js';
import { assertGraphAgreesWithTrainer, sha256, tinyCorpus, tinyVectorsDir } from './helpers.js';

const { train, validation, test } = tinyCorpus;
const small = { train, validation, test, epochs: 20, dim: 8, members: 2, featurizer: { hashBits: 10 } };

describe('hidden layer after the bag (`hidden`)', () => {
  const fx = tinyVectorsDir();

  it('is deterministic, learns, and keeps the workers\' inputs and output', () => {
    const a = trainIntentModel({ ...small, hidden: 24, seed: 4 });
    const b = trainIntentModel({ ...small, hidden: 24, seed: 4 });
    assert.equal(sha256(a.model), sha256(b.model));
    assert.notEqual(sha256(a.model), sha256(trainIntentModel({ ...small, seed: 4 }).model), 'hidden: 0 is the model without the layer');
    assert.ok(a.report.accuracy_top1 !== null && a.report.accuracy_top1 >= 2 / 3, `top-1 ${a.report.accuracy_top1}`);
    const info = decodeModelInfo(a.model);
    assert.deepEqual(info.inputs, ['ids', 'w']);
    assert.deepEqual(info.outputs, ['probs']);
    assert.equal(info.metadata['kefu.format'], 'kefu-intent-hashed/3');
  });

  it('vectorExtremes adds the max and min of the word vectors: 3 x dims rows of P, other bytes', () => {
    const mean = trainIntentModel({ ...small, hidden: 8, embeddings: fx.vecFile, seed: 2 });
    const ext = trainIntentModel({ ...small, hidden: 8, embeddings: fx.vecFile, seed: 2, vectorExtremes: true });
    const again = trainIntentModel({ ...small, hidden: 8, embeddings: fx.vecFile, seed: 2, vectorExtremes: true });
    assert.equal(sha256(ext.model), sha256(again.model));
    assert.notEqual(sha256(ext.model), sha256(mean.model));
    // P grows from [3, 2 x 8] to [9, 2 x 8] floats
    assert.equal(ext.model.length - mean.model.length >= 6 * 16 * 4, true, `${ext.model.length} vs ${mean.model.length}`);
    // without word vectors the option changes nothing
    assert.equal(sha256(trainIntentModel({ ...small, seed: 2, vectorExtremes: true }).model), sha256(trainIntentModel({ ...small, seed: 2 }).model));
  });

  it('rejects a width outside 0..4096 with a RangeError', () => {
    for (const hidden of [-1, 1.5, 5000]) {
      assert.throws(() => trainIntentModel({ ...small, hidden }), { name: 'RangeError', message: 'hidden must be an integer between 0 and 4096' });
    }
  });

  const cases = [
    { tables: 'fp16', hidden: 16, embeddings: false, vectorExtremes: false },
    { tables: 'int8', hidden: 16, embeddings: false, vectorExtremes: false },
    { tables: 'int8', hidden: 16, embeddings: true, vectorExtremes: false },
    { tables: 'int8', hidden: 16, embeddings: true, vectorExtremes: true },
    { tables: 'fp16', hidden: 0, embeddings: true, vectorExtremes: true },
  ] as const;
  for (const { tables, hidden, embeddings, vectorExtremes } of cases) {
    const name = `${tables} tables, hidden ${hidden}${embeddings ? ', word vectors' : ''}${vectorExtremes ? ' with their max and min' : ''}`;
    it(`runs through IntentClassifier with the probabilities the trainer computed (${name})`, async () => {
      const t = trainIntentModel({ ...small, hidden, tables, seed: 3, vectorExtremes, ...(embeddings ? { embeddings: fx.vecFile } : {}) });
      // texts of different lengths in one call: padded rows must not change any text's answer
      await assertGraphAgreesWithTrainer(t, join(fx.dir, `${name}.onnx`), [...test.map((e) => e.text), 'zzz', 'refund my money back for the parcel i ordered last week', '我想退款']);
    });
  }
});
