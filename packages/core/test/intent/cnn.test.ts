import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainIntentModel } from '../../src/intent/trainer.js';
import { decodeModelInfo } from '../../src/intent/onnx-proto.js';
import { CNN_MAX_TOKENS, tokenBuckets } from '../../src/intent/cnn-model.js';
import { cnnFeed } from '../../src/intent/cnn-export.js';
import { defaultFeaturizerSettings } from '../../src/intent/featurizer.js';
import { assertGraphAgreesWithTrainer, sha256, tinyCorpus, tinyVectorsDir } from './helpers.js';

const { train, validation, test } = tinyCorpus;
const small = { train, validation, test, epochs: 10, dim: 8, members: 2, featurizer: { hashBits: 10 }, cnnFilters: 8, cnnEpochs: 15, batchSize: 3, cnnLearningRate: 0.02 };

describe('TextCNN beside the members (`cnnFilters`)', () => {
  const fx = tinyVectorsDir();

  it('is deterministic, learns, and adds the `tok` input and its own format', () => {
    const a = trainIntentModel({ ...small, embeddings: fx.vecFile, seed: 4 });
    const b = trainIntentModel({ ...small, embeddings: fx.vecFile, seed: 4 });
    assert.equal(sha256(a.model), sha256(b.model));
    assert.ok(a.report.accuracy_top1 !== null && a.report.accuracy_top1 >= 2 / 3, `top-1 ${a.report.accuracy_top1}`);
    const info = decodeModelInfo(a.model);
    assert.deepEqual(info.inputs, ['ids', 'w', 'tok']);
    assert.equal(info.metadata['kefu.format'], 'kefu-intent-hashed-cnn/1');
    // cnnFilters 0 (the default) is the model without a CNN
    const plain = trainIntentModel({ ...small, embeddings: fx.vecFile, seed: 4, cnnFilters: 0 });
    assert.equal(decodeModelInfo(plain.model).metadata['kefu.format'], 'kefu-intent-hashed/3');
  });

  it('cnnWeight 1 answers with the CNN alone, which learns the training set by itself', () => {
    const t = trainIntentModel({ ...small, embeddings: fx.vecFile, seed: 2, cnnWeight: 1, cnnEpochs: 30 });
    let right = 0;
    for (const e of train) {
      const p = t.probabilities(e.text);
      if (t.report.labels[p.indexOf(Math.max(...p))] === e.label) right++;
    }
    assert.ok(right >= 15, `${right} of ${train.length} training texts`);
  });

  it('rejects impossible CNN options with a RangeError', () => {
    assert.throws(() => trainIntentModel({ ...small, cnnFilters: -1 }), { name: 'RangeError', message: 'cnnFilters must be an integer between 0 and 1024' });
    assert.throws(() => trainIntentModel({ ...small, cnnWeight: 1.5 }), { name: 'RangeError', message: 'cnnWeight must be a number between 0 and 1' });
    for (const cnnWidths of [[], [0], [9], [1.5], [1, 2, 3, 4, 5, 6, 7, 8, 1]]) {
      assert.throws(() => trainIntentModel({ ...small, cnnWidths }), { name: 'RangeError', message: 'cnnWidths must be 1 to 8 integers between 1 and 8' });
    }
  });

  it(`reads at most ${CNN_MAX_TOKENS} tokens per text, and pads every text with at least one 0`, () => {
    const long = Array.from({ length: 100 }, (_, i) => `w${i}`).join(' ');
    assert.equal(tokenBuckets(long, defaultFeaturizerSettings).length, CNN_MAX_TOKENS);
    assert.equal(tokenBuckets('', defaultFeaturizerSettings).length, 0);
    const feed = cnnFeed([tokenBuckets('a b', defaultFeaturizerSettings), new Int32Array(0)]);
    assert.deepEqual(feed.dims, [2, 3]);
    assert.equal(feed.data[2], 0);
    assert.deepEqual([...feed.data.subarray(3)], [0, 0, 0]);
  });

  for (const [tables, widths] of [['fp16', [1, 2, 3]], ['int8', [2, 4]]] as const) {
    it(`runs through IntentClassifier with the probabilities the trainer computed (${tables}, widths ${widths.join('/')})`, async () => {
      const t = trainIntentModel({ ...small, hidden: 8, tables, embeddings: fx.vecFile, seed: 3, cnnWidths: [...widths], cnnWeight: 0.6 });
      // texts of different lengths in one call: padding must not change any text's answer
      const long = Array.from({ length: 90 }, () => 'refund').join(' ');
      await assertGraphAgreesWithTrainer(t, join(fx.dir, `cnn-${tables}.onnx`), [...test.map((e) => e.text), 'zzz', 'refund my money back for the parcel i ordered last week', '我想退款', long]);
    });
  }
});
