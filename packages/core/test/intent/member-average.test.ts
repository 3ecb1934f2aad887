import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { trainIntentModel } from '../../src/intent/trainer.js';
import { assertGraphAgreesWithTrainer, sha256, tinyCorpus, tinyVectorsDir } from './helpers.js';

const { train, validation, test } = tinyCorpus;
const small = { train, validation, test, epochs: 10, dim: 8, members: 3, featurizer: { hashBits: 10 }, batchSize: 3 };
const texts = [...test.map((e) => e.text), 'zzz', 'refund my money back for the parcel i ordered last week', '我想退款'];

describe('members combined by their logits (`memberAverage: "logits"`)', () => {
  const fx = tinyVectorsDir();

  it('trains the same members and combines them as softmax(mean of logits); deterministic', () => {
    const p = trainIntentModel({ ...small, seed: 5 });
    const l = trainIntentModel({ ...small, seed: 5, memberAverage: 'logits' });
    const l2 = trainIntentModel({ ...small, seed: 5, memberAverage: 'logits' });
    assert.equal(sha256(l.model), sha256(l2.model));
    assert.notEqual(sha256(l.model), sha256(p.model));
    const a = p.probabilities(texts[0]!), b = l.probabilities(texts[0]!);
    assert.ok(Math.abs(b.reduce((s, x) => s + x, 0) - 1) < 1e-5, 'a distribution');
    assert.ok(a.some((x, i) => Math.abs(x - b[i]!) > 1e-4), 'a different combination of the same members');
    assert.throws(() => trainIntentModel({ ...small, memberAverage: 'median' as 'logits' }), { name: 'TypeError', message: 'memberAverage must be "probs" or "logits"' });
  });

  for (const [name, o] of [
    ['no hidden layer, fp16', {}],
    ['hidden layer, int8, word vectors', { hidden: 8, tables: 'int8' as const, embed: true }],
    ['hidden layer, word vectors, CNN, members-margin', { hidden: 8, embed: true, cnnFilters: 4, cnnEpochs: 3, oosRule: 'members-margin' as const }],
  ] as const) {
    it(`runs through IntentClassifier with the trainer's probabilities (${name})`, async () => {
      const { embed, ...rest } = o as Record<string, unknown> & { embed?: boolean };
      const t = trainIntentModel({ ...small, ...rest, ...(embed ? { embeddings: fx.vecFile } : {}), seed: 2, memberAverage: 'logits' });
      await assertGraphAgreesWithTrainer(t, join(fx.dir, `${name.replace(/\W+/g, '-')}.onnx`), texts);
    });
  }
});
