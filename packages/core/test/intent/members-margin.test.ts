import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { writeFileSync } from 'node:fs';
import { isKefuError } from '@kefu/protocol';
import { isFlagged, membersMargin } from '../../src/intent/oos-rule.js';
import { trainIntentModel, type TrainResult } from '../../src/intent/trainer.js';
import { decodeModelInfo } from '../../src/intent/onnx-proto.js';
import { IntentClassifier } from '../../src/intent/classifier.js';
import { oosTinyCorpus, tinyVectorsDir } from './helpers.js';

const { train, validation } = oosTinyCorpus;
const texts = ['refund my money', 'where is my package', 'tell me a joke about the weather', 'order a song', 'zzz', 'money for the parcel', 'play the game'];
const base = { train, validation, epochs: 15, dim: 8, hidden: 8, members: 2, featurizer: { hashBits: 10 }, cnnFilters: 6, cnnEpochs: 10, batchSize: 3, cnnLearningRate: 0.02, cnnWeight: 0.5, oosRule: 'members-margin' as const };

/** The flags the trainer's TypeScript forward pass gives: intent from the mixture, margin from the members. */
function expected(t: TrainResult, threshold: number): boolean[] {
  const oos = t.report.labels.indexOf('oos');
  return texts.map((text) => {
    const p = t.probabilities(text);
    const h = t.memberProbabilities(text);
    return isFlagged(p.indexOf(Math.max(...p)) === oos, membersMargin(h, 0, h.length, oos), threshold);
  });
}

describe('out-of-scope rule `members-margin` (the hashed members decide out of scope, the mixture the intent)', () => {
  const fx = tinyVectorsDir();

  it('membersMargin is the members\' top probability minus their oos probability, read at an offset', () => {
    const h = Float32Array.of(9, 9, 9, 0.5, 0.2, 0.3);
    assert.ok(Math.abs(membersMargin(h, 3, 3, 2) - 0.2) < 1e-6);
    // the members' top label is oos: margin 0, flagged by any positive threshold
    assert.equal(membersMargin(Float32Array.of(0.2, 0.7, 0.1), 0, 3, 1), 0);
    // no oos label: the members' top probability
    assert.ok(Math.abs(membersMargin(Float32Array.of(0.2, 0.7, 0.1), 0, 3, -1) - 0.7) < 1e-6);
  });

  it('the trainer writes the rule, a second output `hprobs`, and is deterministic; it needs a CNN', () => {
    const a = trainIntentModel({ ...base, embeddings: fx.vecFile });
    const b = trainIntentModel({ ...base, embeddings: fx.vecFile });
    assert.deepEqual(a.model, b.model);
    const info = decodeModelInfo(a.model);
    assert.equal(info.metadata['kefu.oos_rule'], 'members-margin');
    assert.deepEqual(info.outputs, ['probs', 'hprobs']);
    assert.equal(a.report.oos_rule, 'members-margin');
    assert.ok(a.report.threshold >= 0 && a.report.threshold <= 1);
    // the members and the mixture differ (else the rule would be plain `margin`)
    const d = a.probabilities(texts[0]!).reduce((s, x, i) => s + Math.abs(x - a.memberProbabilities(texts[0]!)[i]!), 0);
    assert.ok(d > 1e-3, `mixture and members differ by ${d}`);
    // the margin rule keeps a single output
    const m = trainIntentModel({ ...base, embeddings: fx.vecFile, oosRule: 'margin' });
    assert.deepEqual(decodeModelInfo(m.model).outputs, ['probs']);
    assert.throws(() => trainIntentModel({ ...base, cnnFilters: 0 }), { name: 'TypeError', message: 'oosRule "members-margin" needs a CNN (cnnFilters > 0)' });
    assert.throws(() => trainIntentModel({ ...base, oosRule: 'energy' as 'margin' }), { name: 'TypeError', message: 'oosRule must be "confidence", "margin" or "members-margin"' });
  });

  it('IntentClassifier flags as the trainer computed, with the model\'s threshold and with one given, in one padded call and in slices', async () => {
    const t = trainIntentModel({ ...base, embeddings: fx.vecFile, seed: 3 });
    const file = join(fx.dir, 'mm.onnx');
    writeFileSync(file, t.model);
    const oos = t.report.labels.indexOf('oos');
    const margins = texts.map((x) => membersMargin(t.memberProbabilities(x), 0, 3, oos));
    // a threshold that splits the texts' margins, so both outcomes are exercised
    const split = [...margins].sort((x, y) => x - y)[Math.floor(texts.length / 2)]!;
    const c = new IntentClassifier({ model: file, workers: 1 });
    const c2 = new IntentClassifier({ model: file, workers: 1, oosThreshold: split, maxBatch: 128 });
    await c.open();
    await c2.open();
    try {
      assert.equal(c.oosRule, 'members-margin');
      assert.equal(c.threshold, t.report.threshold);
      assert.deepEqual((await c.classifyMany(texts)).map((r) => r.outOfScope), expected(t, t.report.threshold));
      const flags = expected(t, split);
      assert.ok(flags.includes(true) && flags.includes(false), 'the split threshold flags some texts and not others');
      assert.deepEqual((await c2.classifyMany(texts)).map((r) => r.outOfScope), flags);
      // more than one slice of 32 in a batch: the members' rows must follow their texts
      const many = Array.from({ length: 80 }, (_, i) => texts[i % texts.length]! + ' x'.repeat(i % 5));
      const want = many.map((x) => {
        const p = t.probabilities(x);
        return isFlagged(p.indexOf(Math.max(...p)) === oos, membersMargin(t.memberProbabilities(x), 0, 3, oos), split);
      });
      assert.deepEqual((await c2.classifyMany(many)).map((r) => r.outOfScope), want);
    } finally {
      await c.close();
      await c2.close();
    }
  });

  it('the rule on a model without `hprobs` is KEFU_ERR_INTENT_MODEL_METADATA at open()', async () => {
    const t = trainIntentModel({ ...base, embeddings: fx.vecFile, oosRule: 'margin' });
    const file = join(fx.dir, 'margin.onnx');
    writeFileSync(file, t.model);
    const c = new IntentClassifier({ model: file, workers: 1, oosRule: 'members-margin' });
    await assert.rejects(c.open(), (e: unknown) => isKefuError(e, 'KEFU_ERR_INTENT_MODEL_METADATA') && /hprobs/.test((e as Error).message));
    await c.close();
  });
});
