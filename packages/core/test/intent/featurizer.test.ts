import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { defaultFeaturizerSettings, featurize, normalizeText, tokenize } from '../../src/intent/featurizer.js';
import { parseCsv } from '../../src/intent/dataset.js';
import { fromFloat16, toFloat16 } from '../../src/intent/onnx-proto.js';

const s = defaultFeaturizerSettings;

describe('featurizer', () => {
  it('is deterministic and stays inside the hash space', () => {
    const a = featurize('Where is my order #123?', s);
    const b = featurize('Where is my order #123?', s);
    assert.deepEqual([...a.ids], [...b.ids]);
    assert.ok([...a.ids].every((id) => id >= 0 && id < 2 ** s.hashBits));
  });
  it('normalises width and case (NFKC + lower case)', () => {
    assert.equal(normalizeText('ＨＥＬＬＯ Ｗorld', s), 'hello world');
    assert.deepEqual([...featurize('ＨＥＬＬＯ', s).ids], [...featurize('hello', s).ids]);
  });
  it('makes character n-grams and single characters for Chinese without spaces', () => {
    assert.deepEqual(tokenize('我想退款'), ['我想退款']);
    const f = featurize('我想退款', s);
    // 1 word + 4 single characters + 2..5-grams of "<我想退款>" (5 + 4 + 3 + 2 - the whole token)
    assert.ok(f.ids.length >= 15, `${f.ids.length} features`);
    const shared = new Set(featurize('退款多久到账', s).ids);
    assert.ok([...f.ids].some((id) => shared.has(id)), '"退款" is shared');
  });
  it('truncates at maxChars and caps features at maxFeatures', () => {
    const long = 'word'.repeat(10_000);
    assert.equal(normalizeText(long, s).length, s.maxChars);
    const many = Array.from({ length: 5000 }, (_, i) => `w${i}`).join(' ');
    assert.equal(featurize(many, { ...s, maxChars: 1_000_000 }).ids.length, s.maxFeatures);
  });
  it('weights repeated features sublinearly (1 + ln count)', () => {
    const f = featurize('refund refund refund', { ...s, charNgrams: [0, -1], wordNgrams: [1, 1] });
    assert.equal(f.ids.length, 1);
    assert.ok(Math.abs(f.tf[0]! - (1 + Math.log(3))) < 1e-6);
  });
});

describe('CSV reader', () => {
  it('handles a header, quotes, commas, doubled quotes, CRLF and a BOM', () => {
    const rows = parseCsv('\ufefftext,label\r\n"hello, ""world""",greet\r\n退款,refund\n');
    assert.deepEqual(rows, [['text', 'label'], ['hello, "world"', 'greet'], ['退款', 'refund']]);
  });
});

describe('fp16 tables', () => {
  it('round-trips values to half precision within its resolution', () => {
    const xs = new Float32Array([0, 1, -1, 0.1, -0.033, 65504, 1e-5, 3.14159]);
    const h = toFloat16(xs);
    xs.forEach((x, i) => {
      const y = fromFloat16(h[i]!);
      assert.ok(Math.abs(y - x) <= Math.abs(x) * 1e-3 + 1e-7, `${x} -> ${y}`);
    });
  });
});
