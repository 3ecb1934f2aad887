import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKefuError } from '@kefu/protocol';
import { readWordVectors } from '../../src/intent/word-vectors.js';
import { trainIntentModel } from '../../src/intent/trainer.js';
import { decodeModelInfo } from '../../src/intent/onnx-proto.js';
import { assertGraphAgreesWithTrainer, tempDir } from './helpers.js';

const sha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

// two topics whose words sit near each other in a made-up 4-d vector space
const vectors: Record<string, number[]> = {
  refund: [1, 0, 0, 0.1], money: [0.9, 0.1, 0, 0], back: [0.8, 0, 0.1, 0], reimburse: [0.95, 0, 0, 0.05], return: [0.7, 0.1, 0.1, 0],
  order: [0, 1, 0, 0.1], parcel: [0.1, 0.9, 0, 0], package: [0, 0.95, 0.05, 0], track: [0, 0.8, 0.2, 0], shipped: [0.1, 0.85, 0, 0],
  delivery: [0, 0.9, 0.1, 0], weather: [0, 0, 1, 0], song: [0, 0, 0, 1],
};
const train = [
  ...['refund please', 'i want a refund', 'give me my money back', 'refund my order', 'money back now', 'can i get a refund', 'reimburse me', 'return it for my money'].map((text) => ({ text, label: 'refund' })),
  ...['where is my order', 'track my package', 'order status', 'when will my order arrive', 'has my parcel shipped', 'where is my parcel', 'track the parcel', 'package shipped yet'].map((text) => ({ text, label: 'order' })),
];
const validation = [
  { text: 'refund it', label: 'refund' },
  { text: 'where is the delivery', label: 'order' },
  { text: 'what is the weather on mars', label: 'oos' },
  { text: 'sing me a song about cats', label: 'oos' },
];
const test = [
  { text: 'reimburse my money', label: 'refund' },
  { text: 'track my order', label: 'order' },
  { text: 'has it shipped', label: 'order' },
  { text: '我想退款', label: 'refund' },
];
const small = { train, validation, test, epochs: 20, dim: 8, featurizer: { hashBits: 10 } };

describe('word vectors', () => {
  let tmp: ReturnType<typeof tempDir>;
  let textFile: string;
  let jsonFile: string;
  before(() => {
    tmp = tempDir();
    textFile = join(tmp.dir, 'vectors.txt');
    // fastText .vec style: a "count dims" header line first
    writeFileSync(textFile, `${Object.keys(vectors).length} 4\n` + Object.entries(vectors).map(([w, v]) => `${w} ${v.join(' ')}`).join('\n') + '\n');
    jsonFile = join(tmp.dir, 'vectors.json');
    // the wink-embeddings shape: each vector followed by its l2 norm and its index
    writeFileSync(jsonFile, JSON.stringify({ dimensions: 4, vectors: Object.fromEntries(Object.entries(vectors).map(([w, v], i) => [w, [...v, 1, i]])) }));
  });
  after(() => tmp.cleanup());

  it('reads only the asked-for words, from the text and the wink JSON formats alike', () => {
    const words = new Set(['refund', 'parcel', 'unknownword']);
    for (const file of [textFile, jsonFile]) {
      const v = readWordVectors(file, words);
      assert.equal(v.dims, 4);
      assert.deepEqual([...v.vectors.keys()].sort(), ['parcel', 'refund']);
      assert.deepEqual([...v.vectors.get('parcel')!].map((x) => Math.round(x * 100) / 100), [0.1, 0.9, 0, 0]);
    }
  });

  it('rejects missing, malformed and useless vector files with KEFU_ERR_INTENT_DATA_INVALID', () => {
    const bad = (e: unknown): boolean => isKefuError(e, 'KEFU_ERR_INTENT_DATA_INVALID');
    const words = new Set(['refund']);
    assert.throws(() => readWordVectors(join(tmp.dir, 'nope.txt'), words), bad);
    const ragged = join(tmp.dir, 'ragged.txt');
    writeFileSync(ragged, 'refund 1 2 3\nparcel 1 2\n');
    assert.throws(() => readWordVectors(ragged, words), bad);
    const nan = join(tmp.dir, 'nan.txt');
    writeFileSync(nan, 'refund 1 x 3\n');
    assert.throws(() => readWordVectors(nan, words), bad);
    const json = join(tmp.dir, 'bad.json');
    writeFileSync(json, '{"dimensions": 4, "vectors": ');
    assert.throws(() => readWordVectors(json, words), bad);
    assert.throws(() => readWordVectors(textFile, new Set(['nothing'])), bad);
  });

  it('adds a word-vector block to the ONNX graph, stores only training words, stays deterministic', () => {
    const a = trainIntentModel({ ...small, embeddings: textFile, seed: 5 });
    const b = trainIntentModel({ ...small, embeddings: jsonFile, seed: 5 });
    assert.equal(sha(a.model), sha(b.model), 'same vectors from either format -> same bytes');
    const plain = trainIntentModel({ ...small, seed: 5 });
    assert.notEqual(sha(a.model), sha(plain.model));
    // 'delivery', 'weather' and 'song' have vectors but appear only in validation texts: not stored
    assert.equal(a.report.vector_words, 10);
    assert.equal(plain.report.vector_words, 0);
    const info = decodeModelInfo(a.model);
    assert.deepEqual(info.inputs, ['ids', 'w'], 'the same inputs: workers need no change');
    assert.equal(info.metadata['kefu.format'], 'kefu-intent-hashed/3');
  });

  it('refit trains on validation data too and keeps the calibrated threshold', () => {
    const r = trainIntentModel({ ...small, embeddings: textFile, refit: true });
    const first = trainIntentModel({ ...small, embeddings: textFile });
    assert.equal(r.report.threshold, first.report.threshold);
    assert.ok(r.report.before_refit !== null);
    assert.equal(r.report.before_refit.accuracy, first.report.accuracy);
    assert.equal(first.report.before_refit, null);
    // 'delivery' comes from an in-scope validation text; 'weather' and 'song' only from
    // out-of-scope ones, which this training data has no class for, so the refit leaves them out
    assert.equal(r.report.vector_words, 11);
    assert.notEqual(sha(r.model), sha(first.model));
  });

  for (const tables of ['fp16', 'int8'] as const) {
  it(`runs through IntentClassifier with the probabilities the trainer computed (${tables} tables)`, async () => {
    const t = trainIntentModel({ ...small, embeddings: textFile, seed: 2, tables, members: 2 });
    // includes a text with no word vector at all (Chinese here): the block adds nothing
    await assertGraphAgreesWithTrainer(t, join(tmp.dir, `vec-${tables}.onnx`), [...test.map((e) => e.text), 'zzz qqq', 'refund']);
  });
  }

  it('int8 tables take about half the bytes of fp16 ones; an unknown storage is a TypeError', () => {
    const big = { ...small, featurizer: { hashBits: 14 } };
    const f16 = trainIntentModel(big).report.model_bytes;
    const i8 = trainIntentModel({ ...big, tables: 'int8' }).report.model_bytes;
    // 2^14 rows x 16 (2 members x 8): 512 KiB at fp16; 256 KiB + 32 KiB of row scales at int8
    assert.ok(i8 < f16 - 90_000, `int8 ${i8} bytes, fp16 ${f16}`);
    assert.throws(() => trainIntentModel({ ...small, tables: 'int4' as 'int8' }), { name: 'TypeError', message: 'tables must be "fp16" or "int8"' });
  });
});
