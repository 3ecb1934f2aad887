import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isKefuError } from '@kefu/protocol';
import { IntentClassifier } from '../../src/intent/classifier.js';
import { buildBertGraph, buildVocab } from '../../src/intent/bert-graph.js';
import { WordPieceTokenizer } from '../../src/intent/wordpiece.js';
import { tempDir } from './helpers.js';

const labels = ['greeting', 'refund', 'order_status'];

describe('WordPiece tokenizer', () => {
  const vocab = new Map(buildVocab(['hello', 'world', 'un', '##believ', '##able', '退']).map((t, i) => [t, i]));
  const tok = new WordPieceTokenizer(vocab, { maxLength: 16 });
  const id = (t: string): number => vocab.get(t)!;

  it('splits words into the longest known pieces, marks continuations with ##', () => {
    assert.deepEqual(tok.encode('Unbelievable!'), [tok.cls, id('un'), id('##believ'), id('##able'), id('!'), tok.sep]);
  });
  it('lower-cases, strips accents and splits CJK characters apart', () => {
    assert.deepEqual(tok.basic('HÉLLO 退款'), ['hello', '退', '款']);
    assert.deepEqual(tok.encode('héllo 退款'), [tok.cls, id('hello'), id('退'), tok.unk, tok.sep]);
  });
  it('truncates to maxLength including [CLS] and [SEP]', () => {
    const ids = tok.encode('hello '.repeat(100));
    assert.equal(ids.length, 16);
    assert.equal(ids[0], tok.cls);
    assert.equal(ids[15], tok.sep);
  });
  it('maps a word longer than 100 characters to [UNK]', () => {
    assert.deepEqual(tok.encode('a'.repeat(101)), [tok.cls, tok.unk, tok.sep]);
  });
  it('rejects a vocab without the special tokens', () => {
    assert.throws(() => new WordPieceTokenizer(new Map([['hello', 0]])), (e: unknown) => isKefuError(e, 'KEFU_ERR_INTENT_MODEL_METADATA'));
  });
  it('rejects maxLength below 3', () => {
    assert.throws(() => new WordPieceTokenizer(vocab, { maxLength: 2 }), { name: 'RangeError', message: 'maxLength must be an integer of at least 3' });
  });
});

describe('bring your own transformer (test-built BERT graph)', () => {
  let tmp: ReturnType<typeof tempDir>;
  let modelPath: string;
  let noMetaPath: string;
  let vocabPath: string;
  before(() => {
    tmp = tempDir();
    const vocab = buildVocab(['hello', 'where', 'is', 'my', 'order', 'refund', 'please', 'money', 'back']);
    vocabPath = join(tmp.dir, 'vocab.txt');
    writeFileSync(vocabPath, vocab.join('\n') + '\n');
    modelPath = join(tmp.dir, 'bert.onnx');
    writeFileSync(modelPath, buildBertGraph({ vocabSize: vocab.length, hidden: 32, layers: 2, heads: 4, maxPositions: 64, classes: 3, labels, oosThreshold: 0.1 }));
    noMetaPath = join(tmp.dir, 'bert-nometa.onnx');
    writeFileSync(noMetaPath, buildBertGraph({ vocabSize: vocab.length, hidden: 32, layers: 1, heads: 4, maxPositions: 64, classes: 3, tokenTypes: false }));
  });
  after(() => tmp.cleanup());

  it('classifies through the worker pool with labels and threshold from the metadata', async () => {
    const c = new IntentClassifier({ model: modelPath, vocab: vocabPath, workers: 1, maxLength: 32 });
    await c.open();
    try {
      assert.equal(c.kind, 'bert');
      assert.deepEqual(c.labels, labels);
      assert.equal(c.threshold, 0.1);
      const r = await c.classify('Hello, where is my order?');
      assert.ok(labels.includes(r.intent));
      assert.equal(r.topK.length, 3);
      const sum = r.topK.reduce((a, b) => a + b.confidence, 0);
      assert.ok(Math.abs(sum - 1) < 1e-4, `softmax sums to 1, got ${sum}`);
      // batched and single runs agree (padding is masked out)
      const many = await c.classifyMany(['refund please', 'Hello, where is my order?', 'money back']);
      assert.equal(many[1]!.intent, r.intent);
      assert.ok(Math.abs(many[1]!.confidence - r.confidence) < 1e-4);
      // a text far longer than maxLength tokens is truncated, not rejected
      const long = await c.classify('hello '.repeat(500));
      assert.ok(labels.includes(long.intent));
    } finally {
      await c.close();
    }
  });

  it('takes labels from the options when the model has no metadata (DistilBERT-style inputs)', async () => {
    await assert.rejects(
      async () => {
        const c = new IntentClassifier({ model: noMetaPath, vocab: vocabPath, workers: 1 });
        await c.open();
      },
      (e: unknown) => isKefuError(e, 'KEFU_ERR_INTENT_MODEL_METADATA'),
    );
    const c = new IntentClassifier({ model: noMetaPath, vocab: vocabPath, labels, workers: 1, oosThreshold: 0.99 });
    await c.open();
    try {
      const r = await c.classify('refund please');
      assert.ok(labels.includes(r.intent));
      assert.equal(r.outOfScope, true, 'random weights are far below a 0.99 threshold');
    } finally {
      await c.close();
    }
  });

  it('fails with KEFU_ERR_INTENT_MODEL_METADATA when the labels do not match the outputs', async () => {
    const c = new IntentClassifier({ model: noMetaPath, vocab: vocabPath, labels: ['a', 'b'], workers: 1 });
    await assert.rejects(c.open(), (e: unknown) => isKefuError(e, 'KEFU_ERR_INTENT_MODEL_METADATA'));
  });

  it('fails with KEFU_ERR_INTENT_MODEL_NOT_FOUND when the vocab is missing', async () => {
    const c = new IntentClassifier({ model: modelPath, vocab: join(tmp.dir, 'nope.txt'), workers: 1 });
    await assert.rejects(c.open(), (e: unknown) => isKefuError(e, 'KEFU_ERR_INTENT_MODEL_NOT_FOUND'));
  });

  it('needs a vocab for a bert model', async () => {
    assert.throws(() => new IntentClassifier({ model: modelPath, kind: 'bert' }), { name: 'TypeError', message: 'kind "bert" needs a vocab file' });
    const c = new IntentClassifier({ model: modelPath, workers: 1 });
    await assert.rejects(c.open(), { name: 'TypeError', message: 'a bert model needs a vocab file' });
  });
});
