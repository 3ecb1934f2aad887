import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKefuError } from '@kefu/protocol';
import { isFlagged, oosScore } from '../../src/intent/oos-rule.js';
import { parseOosRule } from '../../src/intent/metadata.js';
import { trainIntentModel } from '../../src/intent/trainer.js';
import { decodeModelInfo } from '../../src/intent/onnx-proto.js';
import { IntentClassifier } from '../../src/intent/classifier.js';
import { oosTinyCorpus, tempDir } from './helpers.js';

const { train, validation } = oosTinyCorpus;
const texts = ['refund my money', 'where is my package', 'tell me a joke about the weather', 'order a song', 'zzz'];
const base = { train, validation, epochs: 20, dim: 8, featurizer: { hashBits: 10 } };

describe('out-of-scope rule', () => {
  let tmp: ReturnType<typeof tempDir>;
  before(() => {
    tmp = tempDir();
  });
  after(() => tmp.cleanup());

  it('margin is the top probability minus the out-of-scope probability; the top label being oos always flags', () => {
    assert.equal(oosScore('confidence', 0.6, 0.3), 0.6);
    assert.ok(Math.abs(oosScore('margin', 0.6, 0.3) - 0.3) < 1e-12);
    assert.equal(isFlagged(false, 0.3, 0.31), true);
    assert.equal(isFlagged(false, 0.31, 0.31), false);
    assert.equal(isFlagged(true, 0.99, 0), true);
  });

  it('the trainer stores kefu.oos_rule only for margin (confidence models keep their bytes), and checks the option', () => {
    const conf = trainIntentModel(base);
    const margin = trainIntentModel({ ...base, oosRule: 'margin' });
    assert.equal(decodeModelInfo(conf.model).metadata['kefu.oos_rule'], undefined);
    assert.equal(conf.report.oos_rule, 'confidence');
    assert.equal(decodeModelInfo(margin.model).metadata['kefu.oos_rule'], 'margin');
    assert.equal(margin.report.oos_rule, 'margin');
    assert.ok(margin.report.threshold >= 0 && margin.report.threshold <= 1);
    assert.throws(() => trainIntentModel({ ...base, oosRule: 'energy' as 'margin' }), { name: 'TypeError', message: 'oosRule must be "confidence", "margin" or "members-margin"' });
  });

  it('a bad kefu.oos_rule is KEFU_ERR_INTENT_MODEL_METADATA; absent means confidence', () => {
    assert.equal(parseOosRule('m.onnx', undefined), 'confidence');
    assert.equal(parseOosRule('m.onnx', 'margin'), 'margin');
    assert.throws(() => parseOosRule('m.onnx', 'energy'), (e: unknown) => isKefuError(e, 'KEFU_ERR_INTENT_MODEL_METADATA'));
  });

  it('IntentClassifier applies the model\'s rule and threshold as the trainer did, and the option overrides the rule', async () => {
    const t = trainIntentModel({ ...base, oosRule: 'margin', seed: 3 });
    const file = join(tmp.dir, 'margin.onnx');
    writeFileSync(file, t.model);
    const oos = t.report.labels.indexOf('oos');
    const expected = (rule: 'confidence' | 'margin', threshold: number): boolean[] =>
      texts.map((text) => {
        const p = t.probabilities(text);
        const best = p.indexOf(Math.max(...p));
        return isFlagged(best === oos, oosScore(rule, p[best]!, p[oos]!), threshold);
      });
    const c = new IntentClassifier({ model: file, workers: 1 });
    await c.open();
    try {
      assert.equal(c.oosRule, 'margin');
      assert.equal(c.threshold, t.report.threshold);
      assert.deepEqual((await c.classifyMany(texts)).map((r) => r.outOfScope), expected('margin', t.report.threshold));
    } finally {
      await c.close();
    }
    // a threshold between a text's confidence and its margin tells the two rules apart
    const p = t.probabilities(texts[0]!);
    const top = Math.max(...p);
    const between = (top + (top - p[oos]!)) / 2;
    const c2 = new IntentClassifier({ model: file, workers: 1, oosRule: 'confidence', oosThreshold: between });
    const c3 = new IntentClassifier({ model: file, workers: 1, oosThreshold: between });
    await c2.open();
    await c3.open();
    try {
      assert.equal(c2.oosRule, 'confidence');
      assert.deepEqual((await c2.classifyMany(texts)).map((r) => r.outOfScope), expected('confidence', between));
      assert.deepEqual((await c3.classifyMany(texts)).map((r) => r.outOfScope), expected('margin', between));
      assert.ok(p.indexOf(top) !== oos && p[oos]! > 0.01, 'the first text has an in-scope top label and a visible oos runner-up');
      assert.equal((await c2.classify(texts[0]!)).outOfScope, false);
      assert.equal((await c3.classify(texts[0]!)).outOfScope, true);
    } finally {
      await c2.close();
      await c3.close();
    }
    assert.throws(() => new IntentClassifier({ oosRule: 'energy' as 'margin' }), { name: 'TypeError', message: 'oosRule must be "confidence", "margin" or "members-margin"' });
  });
});
