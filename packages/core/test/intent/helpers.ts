/** Shared helpers of the intent tests: the CLINC150 location, temp dirs, a tiny trained model, a tiny corpus. */
import { createHash } from 'node:crypto';
import { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireAll } from '../../src/testing/environment.js';
import { trainIntentModel, type TrainResult } from '../../src/intent/trainer.js';
import { IntentClassifier } from '../../src/intent/classifier.js';

export const repoRoot = resolve(fileURLToPath(new URL('../../../../', import.meta.url)));
export const clincPath = resolve(repoRoot, '../shared/data/clinc150/data_full.json');
export const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
export const shippedModel = resolve(repoRoot, 'packages/intent-model/model.onnx');

/** The CLINC150 file, or a skip reason (loud), or a failure under KEFU_REQUIRE_ALL=1. */
export function clinc(): { path: string } | { skip: string } {
  if (existsSync(clincPath)) return { path: clincPath };
  const msg = `CLINC150 not found at ${clincPath} (the shared data directory beside the repo)`;
  if (requireAll) throw new Error(`KEFU_REQUIRE_ALL=1 but ${msg}`);
  console.warn(`\n*** SKIPPING: ${msg} ***\n`);
  return { skip: msg };
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'kefu-intent-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Trains a small model on the Chinese fixture (a second or so) and writes it to `dir`. */
export function tinyModel(dir: string, seed = 1): string {
  const { model } = trainIntentModel({
    train: join(fixtures, 'zh-train.csv'),
    epochs: 20,
    dim: 16,
    seed,
    featurizer: { hashBits: 12 },
  });
  const file = join(dir, `tiny-${seed}.onnx`);
  writeFileSync(file, model);
  return file;
}

/**
 * Writes a trained model to `file`, classifies `texts` through IntentClassifier (onnxruntime, one
 * worker, all texts in one padded call) and asserts that each answer is the trainer's own
 * TypeScript forward pass: the same intent, confidence within 1e-4.
 */
export async function assertGraphAgreesWithTrainer(t: TrainResult, file: string, texts: string[]): Promise<void> {
  writeFileSync(file, t.model);
  const c = new IntentClassifier({ model: file, workers: 1 });
  await c.open();
  try {
    const rs = await c.classifyMany(texts);
    rs.forEach((r, i) => {
      const p = t.probabilities(texts[i]!);
      const best = p.indexOf(Math.max(...p));
      assert.equal(r.intent, t.report.labels[best], texts[i]);
      assert.ok(Math.abs(r.confidence - p[best]!) < 1e-4, `${texts[i]}: onnx ${r.confidence}, typescript ${p[best]}`);
    });
  } finally {
    await c.close();
  }
}

/** A tiny three-intent corpus with 3-d word vectors, shared by the trainer-option tests (hidden layer, CNN). */
const vectors: Record<string, number[]> = {
  refund: [1, 0, 0], money: [0.9, 0.1, 0], back: [0.8, 0, 0.1], order: [0, 1, 0], parcel: [0.1, 0.9, 0], track: [0, 0.8, 0.2],
  hours: [0, 0, 1], open: [0.1, 0, 0.9],
};
/** Examples of one label. */
const labelled = (label: string, texts: string[]): { text: string; label: string }[] => texts.map((text) => ({ text, label }));
const train = [
  ...labelled('refund', ['refund please', 'i want a refund', 'give me my money back', 'refund my order', 'money back now', 'can i get a refund']),
  ...labelled('order', ['where is my order', 'track my package', 'order status', 'when will my order arrive', 'where is my parcel', 'track the parcel']),
  ...labelled('hours', ['when are you open', 'opening hours', 'what are your hours', 'are you open on sunday', 'hours today', 'open late']),
];
const validation = [
  { text: 'refund it', label: 'refund' },
  { text: 'track it', label: 'order' },
  { text: 'open now?', label: 'hours' },
];
const test = [
  { text: 'money back please', label: 'refund' },
  { text: 'track my order', label: 'order' },
  { text: 'your hours', label: 'hours' },
];
export const tinyCorpus = { vectors, train, validation, test };

/** Writes the tiny corpus's vectors as a word-vector text file in `dir` (the trainer's `embeddings`). */
export function writeTinyVectors(dir: string): string {
  const file = join(dir, 'vectors.txt');
  writeFileSync(file, Object.entries(vectors).map(([w, v]) => `${w} ${v.join(' ')}`).join('\n') + '\n');
  return file;
}

/**
 * Call inside a describe: a temp dir with the tiny corpus's vector file, made before the suite's
 * tests and removed after them. Read `dir` and `vecFile` from the tests (not at describe time).
 */
export function tinyVectorsDir(): { readonly dir: string; readonly vecFile: string } {
  let tmp: ReturnType<typeof tempDir> | undefined;
  let vecFile = '';
  before(() => {
    tmp = tempDir();
    vecFile = writeTinyVectors(tmp.dir);
  });
  after(() => tmp?.cleanup());
  return {
    get dir() { return tmp!.dir; },
    get vecFile() { return vecFile; },
  };
}

/** Three labels, one of them `oos`, a few texts each: enough for the out-of-scope rules' tests. */
export const oosTinyCorpus = {
  train: [
    ...labelled('refund', ['refund please', 'i want a refund', 'give me my money back', 'refund my order', 'money back now', 'can i get a refund']),
    ...labelled('order', ['where is my order', 'track my package', 'order status', 'when will my order arrive', 'has my parcel shipped', 'where is my parcel']),
    ...labelled('oos', ['what is the weather', 'sing me a song', 'who won the game', 'tell me a joke', 'how tall is everest', 'play some music']),
  ],
  validation: [
    ...labelled('refund', ['refund it', 'my money back please']),
    ...labelled('order', ['where is the parcel', 'track my order']),
    ...labelled('oos', ['what is the weather on mars', 'sing me a song about cats', 'who is the president', 'recommend a movie']),
  ],
};

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
