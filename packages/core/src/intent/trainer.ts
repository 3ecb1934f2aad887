/**
 * The deterministic trainer: hashed n-gram features -> tf-idf embedding bag -> relu hidden layer
 * -> softmax, optimised with Adam (lazy, row-sparse for the embedding table) in plain
 * TypeScript on Float32Arrays. Single-threaded and seeded: same data + same options -> same
 * model bytes. The out-of-scope threshold is calibrated on validation data.
 */
import { KefuError } from '@kefu/protocol';
import { defaultFeaturizerSettings, featurize, normalizeText, tokenize, wordBucket, type Features, type FeaturizerSettings } from './featurizer.js';
import { featureDims, hidden, logits, predictParts, softmaxInPlace, vectorFeature, weights, type HashedModel, type Member, type VectorBlock } from './hashed-model.js';
import { readWordVectors, type WordVectors } from './word-vectors.js';
import { readExamples, hasSplit, type Example } from './dataset.js';
import { exportHashedModel } from './hashed-export.js';
import { fromFloat16, toFloat16 } from './onnx-proto.js';
import { Prng } from './prng.js';
import { isFlagged, membersMargin, oosScore, OOS_RULE_ERROR, OOS_RULES, type OosRule } from './oos-rule.js';
import { tokenBuckets, type CnnModel } from './cnn-model.js';
import { cnnVocabulary, trainCnn } from './cnn-trainer.js';

export interface TrainOptions {
  /** Training examples, or a file (CLINC150 JSON shape: its `train` split; or CSV `text,label`). */
  train: string | Example[];
  /**
   * Validation examples for calibrating the out-of-scope threshold, or a file (`val` split).
   * @defaultValue the `val` split of the training file when it has one, else every 10th training example (held out)
   */
  validation?: string | Example[];
  /** Test examples or file (`test` split) for the reported accuracy. @defaultValue none */
  test?: string | Example[];
  /** Label that marks out-of-scope examples. @defaultValue 'oos' */
  oosLabel?: string;
  /** Learn out-of-scope training examples as their own class (else they are dropped). @defaultValue true */
  trainOos?: boolean;
  /**
   * Out-of-scope recall the threshold must reach on the validation data (the lowest threshold that
   * reaches it is chosen, to reject as few in-scope texts as possible).
   * @defaultValue 0.85
   */
  oosTargetRecall?: number;
  /**
   * Instead of `oosTargetRecall`: the lowest threshold whose one-sided 95% Wilson lower bound on
   * the validation out-of-scope recall reaches this value. With few out-of-scope validation
   * examples (CLINC150 has 100) the observed recall is noisy; the bound asks for a margin that
   * shrinks as the validation set grows (at 100 examples, 0.8 needs an observed 0.87).
   * @defaultValue none
   */
  oosRecallLowerBound?: number;
  /**
   * What the out-of-scope threshold is compared with: `confidence`, the top label's probability;
   * or `margin`, the top label's probability minus the out-of-scope label's (with an out-of-scope
   * class only), so that a text whose runner-up is "out of scope" needs a clearer lead.
   * `members-margin` (needs `cnnFilters`): the margin of the hashed members' own probabilities,
   * while the intent is the mixture's top label; the graph then also outputs the members'
   * probabilities (`hprobs`). Stored in the model (`kefu.oos_rule`).
   * @defaultValue 'confidence'
   */
  oosRule?: OosRule;
  /** PRNG seed. @defaultValue 1 */
  seed?: number;
  /** Passes over the training data. @defaultValue 15 */
  epochs?: number;
  /** Hidden (embedding) width of each member. @defaultValue 32 */
  dim?: number;
  /**
   * Width of a hidden layer after each member's bag: the bag (`dim` wide, linear) and the
   * word-vector feature then meet in relu(bag A + vectors P + b) of this width, so the model
   * gains a non-linear layer without widening the tables (which hold nearly all the bytes).
   * 0: none, the bag itself is the hidden layer (models before session 4).
   * @defaultValue 0
   */
  hidden?: number;
  /** Ensemble members, averaged (each adds a table of 2^hashBits x dim fp16). @defaultValue 2 */
  members?: number;
  /**
   * How the members are combined: `probs`, the mean of their probabilities; `logits`, the
   * softmax of the mean of their logits (a geometric mean; the same graph cost). Training is the
   * same: each member is trained alone.
   * @defaultValue 'probs'
   */
  memberAverage?: 'probs' | 'logits';
  /** Adam learning rate. @defaultValue 0.004 */
  learningRate?: number;
  /** Mini-batch size. @defaultValue 32 */
  batchSize?: number;
  /** Dropout on the hidden layer. @defaultValue 0.3 */
  dropout?: number;
  /**
   * Feature dropout during training: each hashed feature of an example is left out with this
   * probability (the others scaled up), so that no single n-gram is relied on. @defaultValue 0
   */
  featureDropout?: number;
  /** Label smoothing. @defaultValue 0.05 */
  labelSmoothing?: number;
  /**
   * After calibrating the out-of-scope threshold on the validation data, train the final model
   * again from scratch on training + validation data (same options and seed) and keep that
   * threshold. Doubles the training time; the test split is never used for either step.
   * @defaultValue false
   */
  refit?: boolean;
  /**
   * Pretrained word vectors (a file in the wink-embeddings JSON or GloVe/fastText text format,
   * or already loaded): adds their tf-idf-weighted mean, projected into each member's hidden
   * layer, as a feature block. Only the vectors of training words are stored in the model (fp16).
   * @defaultValue none
   */
  embeddings?: string | WordVectors;
  /**
   * With `embeddings`: the word-vector feature also holds the element-wise max and min of the
   * text's word vectors besides their weighted mean (3 x the vector dimensions).
   * @defaultValue false
   */
  vectorExtremes?: boolean;
  /**
   * Storage of the embedding tables: fp16, or int8 with one scale per bucket row (half the
   * bytes again, so twice the width or members fit in the same file).
   * @defaultValue 'fp16'
   */
  tables?: 'fp16' | 'int8';
  /**
   * Filters per window width of a TextCNN trained beside the members (session 5): token vectors
   * (the `embeddings`, scaled to length 3 and fine-tuned; random for words without one) -> one
   * convolution per width in `cnnWidths` -> max over time -> relu -> softmax. Its probabilities
   * are averaged in with weight `cnnWeight`. 0: no CNN.
   * @defaultValue 0
   */
  cnnFilters?: number;
  /** Window widths (in tokens) of the CNN's convolutions. @defaultValue [1, 2, 3] */
  cnnWidths?: number[];
  /** Passes of the CNN over the training data. @defaultValue 4 */
  cnnEpochs?: number;
  /** The CNN's Adam learning rate. @defaultValue 0.005 */
  cnnLearningRate?: number;
  /** Dropout on the CNN's pooled features. @defaultValue 0.5 */
  cnnDropout?: number;
  /** Share of the CNN in the model's probabilities (the members share the rest). @defaultValue 0.3 */
  cnnWeight?: number;
  /** Featurizer settings. @defaultValue defaultFeaturizerSettings */
  featurizer?: Partial<FeaturizerSettings>;
  /** Progress lines (the human report). @defaultValue no output */
  log?: (line: string) => void;
}

export interface TrainReport {
  /** In-scope test accuracy: correct intent and not flagged out-of-scope (the CLINC150 metric). */
  accuracy: number | null;
  /** In-scope test accuracy of the top intent ignoring the out-of-scope flag. */
  accuracy_top1: number | null;
  /** Share of out-of-scope test examples flagged out-of-scope. */
  oos_recall: number | null;
  val_accuracy: number;
  /** Validation in-scope top-1 accuracy (ignoring the out-of-scope flag): the cleaner figure for ranking settings. */
  val_accuracy_top1: number;
  val_oos_recall: number | null;
  /** With `refit`: test figures of the first model (trained without the validation data). */
  before_refit: { accuracy: number; accuracy_top1: number; oos_recall: number | null } | null;
  /** Words of the training vocabulary stored with a pretrained vector (0 without embeddings). */
  vector_words: number;
  threshold: number;
  oos_rule: OosRule;
  labels: string[];
  train_examples: number;
  train_seconds: number;
  model_bytes: number;
  seed: number;
}

export interface TrainResult {
  model: Uint8Array;
  report: TrainReport;
  /**
   * Class probabilities of one text (in `report.labels` order) computed in TypeScript by the
   * exported model's weights (fp16 tables included): what the ONNX graph must compute too.
   */
  probabilities(text: string): Float32Array;
  /** The hashed members' averaged probabilities (= `probabilities` without a CNN): what `members-margin` reads. */
  memberProbabilities(text: string): Float32Array;
}

const defaults = {
  oosLabel: 'oos',
  trainOos: true,
  oosTargetRecall: 0.85,
  seed: 1,
  epochs: 15,
  dim: 32,
  hidden: 0,
  members: 2,
  memberAverage: 'probs' as 'probs' | 'logits',
  learningRate: 0.004,
  batchSize: 32,
  dropout: 0.3,
  labelSmoothing: 0.05,
  featureDropout: 0,
  refit: false,
  vectorExtremes: false,
  tables: 'fp16' as 'fp16' | 'int8',
  oosRule: 'confidence' as OosRule,
  cnnFilters: 0,
  cnnWidths: [1, 2, 3],
  cnnEpochs: 4,
  cnnLearningRate: 0.005,
  cnnDropout: 0.5,
  cnnWeight: 0.3,
};

function load(x: string | Example[], split: 'train' | 'val' | 'test', oosLabel: string): Example[] {
  return typeof x === 'string' ? readExamples(x, split, oosLabel) : x;
}

function checkRange(name: string, v: number, min: number, max: number, int = false): void {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max || (int && !Number.isInteger(v))) {
    throw new RangeError(`${name} must be ${int ? 'an integer' : 'a number'} between ${min} and ${max}`);
  }
}

interface Prepared {
  f: Features;
  y: number;
  /** Word buckets of the text's tokens (the CNN's input). */
  tok: Int32Array;
}

interface Scored {
  best: number;
  /** What the threshold is compared with (confidence or margin, per the rule). */
  conf: number;
  y: number;
}

function score(parts: Array<{ probs: Float32Array; members: Float32Array }>, ys: number[], oosClass: number, rule: OosRule): Scored[] {
  return parts.map(({ probs: p, members }, i) => {
    let best = 0;
    for (let c = 1; c < p.length; c++) if (p[c]! > p[best]!) best = c;
    const conf = rule === 'members-margin' ? membersMargin(members, 0, members.length, oosClass) : oosScore(rule, p[best]!, oosClass >= 0 ? p[oosClass]! : 0);
    return { best, conf, y: ys[i]! };
  });
}

/** Evaluates predictions with an out-of-scope threshold. */
function evaluate(s: Scored[], oosClass: number, threshold: number): { acc: number; top1: number; recall: number | null } {
  let inN = 0, inOk = 0, inTop = 0, oosN = 0, oosOk = 0;
  for (const { best, conf, y } of s) {
    const flagged = isFlagged(best === oosClass, conf, threshold);
    if (y === -1 || y === oosClass) {
      oosN++;
      if (flagged) oosOk++;
    } else {
      inN++;
      if (best === y) {
        inTop++;
        if (!flagged) inOk++;
      }
    }
  }
  return { acc: inN ? inOk / inN : 0, top1: inN ? inTop / inN : 0, recall: oosN ? oosOk / oosN : null };
}

/**
 * Picks the out-of-scope threshold on validation data: the lowest confidence threshold whose
 * out-of-scope recall reaches `targetRecall` (the lowest such threshold rejects the fewest
 * in-scope texts); when none reaches it, the one maximising in-scope accuracy + recall.
 */
function calibrate(s: Scored[], oosClass: number, targetRecall: number, lowerBound?: number): number {
  const nOos = s.filter((x) => x.y === -1 || x.y === oosClass).length;
  if (nOos === 0) return 0;
  const cands = [...new Set([0, ...s.map((x) => Math.max(0, Math.round(x.conf * 1000) / 1000))])].sort((a, b) => a - b);
  const ok = (recall: number): boolean => (lowerBound === undefined ? recall >= targetRecall : wilsonLower(recall, nOos) >= lowerBound);
  for (const t of cands) if (ok(evaluate(s, oosClass, t).recall ?? 0)) return t;
  let bestT = 0, bestScore = -1;
  for (const t of cands) {
    const e = evaluate(s, oosClass, t);
    const sc = e.acc + (e.recall ?? 0);
    if (sc > bestScore + 1e-12) {
      bestScore = sc;
      bestT = t;
    }
  }
  return bestT;
}

/** One-sided 95% Wilson score lower bound of a proportion `p` observed on `n` samples. */
export function wilsonLower(p: number, n: number): number {
  const z = 1.6449;
  const z2n = (z * z) / n;
  return (p + z2n / 2 - z * Math.sqrt((p * (1 - p)) / n + z2n / (4 * n))) / (1 + z2n);
}

/** Trains a model and returns its ONNX bytes and a report. */
export function trainIntentModel(options: TrainOptions): TrainResult {
  const o = { ...defaults, ...options };
  const fz: FeaturizerSettings = { ...defaultFeaturizerSettings, ...options.featurizer };
  checkRange('epochs', o.epochs, 1, 1000, true);
  checkRange('dim', o.dim, 2, 4096, true);
  checkRange('hidden', o.hidden, 0, 4096, true);
  checkRange('members', o.members, 1, 16, true);
  checkRange('batchSize', o.batchSize, 1, 4096, true);
  checkRange('learningRate', o.learningRate, 1e-6, 10);
  checkRange('dropout', o.dropout, 0, 0.95);
  checkRange('labelSmoothing', o.labelSmoothing, 0, 0.5);
  checkRange('featureDropout', o.featureDropout, 0, 0.9);
  if (o.tables !== 'fp16' && o.tables !== 'int8') throw new TypeError('tables must be "fp16" or "int8"');
  if (o.memberAverage !== 'probs' && o.memberAverage !== 'logits') throw new TypeError('memberAverage must be "probs" or "logits"');
  if (!OOS_RULES.includes(o.oosRule)) throw new TypeError(OOS_RULE_ERROR);
  if (o.oosRule === 'members-margin' && !(o.cnnFilters > 0)) throw new TypeError('oosRule "members-margin" needs a CNN (cnnFilters > 0)');
  checkRange('oosTargetRecall', o.oosTargetRecall, 0, 1);
  if (o.oosRecallLowerBound !== undefined) checkRange('oosRecallLowerBound', o.oosRecallLowerBound, 0, 1);
  checkRange('cnnFilters', o.cnnFilters, 0, 1024, true);
  checkRange('cnnEpochs', o.cnnEpochs, 1, 1000, true);
  checkRange('cnnLearningRate', o.cnnLearningRate, 1e-6, 10);
  checkRange('cnnDropout', o.cnnDropout, 0, 0.95);
  checkRange('cnnWeight', o.cnnWeight, 0, 1);
  if (!Array.isArray(o.cnnWidths) || o.cnnWidths.length === 0 || o.cnnWidths.length > 8 || !o.cnnWidths.every((k) => Number.isInteger(k) && k >= 1 && k <= 8)) {
    throw new RangeError('cnnWidths must be 1 to 8 integers between 1 and 8');
  }
  checkRange('featurizer.hashBits', fz.hashBits, 8, 24, true);
  checkRange('featurizer.maxChars', fz.maxChars, 1, 1_000_000, true);
  checkRange('featurizer.maxFeatures', fz.maxFeatures, 1, 100_000, true);
  const log = o.log ?? (() => {});
  const t0 = performance.now();

  let train = load(o.train, 'train', o.oosLabel);
  let val: Example[];
  if (o.validation !== undefined) val = load(o.validation, 'val', o.oosLabel);
  else if (typeof o.train === 'string' && hasSplit(o.train, 'val')) val = readExamples(o.train, 'val', o.oosLabel);
  else {
    val = train.filter((_, i) => i % 10 === 9);
    train = train.filter((_, i) => i % 10 !== 9);
  }
  const test = o.test === undefined ? [] : load(o.test, 'test', o.oosLabel);
  if (!o.trainOos) train = train.filter((e) => e.label !== o.oosLabel);

  const labels = [...new Set(train.map((e) => e.label))].sort();
  if (labels.length < 2) {
    throw new KefuError('KEFU_ERR_INTENT_DATA_INVALID', `training data needs at least 2 labels, found ${labels.length}`);
  }
  const index = new Map(labels.map((l, i) => [l, i]));
  const oosClass = index.get(o.oosLabel) ?? -1;
  const C = labels.length;
  const D = o.dim;
  const H = 2 ** fz.hashBits;
  // labels unseen in training count as out-of-scope (-1) when evaluating
  const prep = (xs: Example[]): Prepared[] =>
    xs.map((e) => ({ f: featurize(e.text, fz), y: index.get(e.label) ?? -1, tok: tokenBuckets(e.text, fz) }));
  const tr = prep(train);
  const tf0 = performance.now();
  const va = prep(val);
  const te = prep(test);
  log(`featurized in ${((performance.now() - tf0) / 1000).toFixed(1)} s`);
  log(`kefu-intent: ${tr.length} training examples, ${C} labels, ${va.length} validation, ${te.length} test`);

  const vectors = o.embeddings === undefined ? null : loadVectors(o.embeddings, o.refit ? train.concat(val) : train, fz, log);
  const ctx = { H, D, C, o, log, fz, vectors };
  const ys = (xs: Prepared[]): number[] => xs.map((p) => p.y);
  const first = fit(tr, train, ctx);
  const vs = score(va.map((p) => predictParts(first, p.f, p.tok)), ys(va), oosClass, o.oosRule);
  const threshold = calibrate(vs, oosClass, o.oosTargetRecall, o.oosRecallLowerBound);
  const ve = evaluate(vs, oosClass, threshold);
  const testOf = (m: HashedModel): { acc: number; top1: number; recall: number | null } | null =>
    te.length > 0 ? evaluate(score(te.map((p) => predictParts(m, p.f, p.tok)), ys(te), oosClass, o.oosRule), oosClass, threshold) : null;
  let model = first;
  let beforeRefit: TrainReport['before_refit'] = null;
  if (o.refit) {
    const b = testOf(first);
    if (b) beforeRefit = { accuracy: round(b.acc), accuracy_top1: round(b.top1), oos_recall: b.recall === null ? null : round(b.recall) };
    log(`refit on training + validation data (${tr.length + va.length} examples), threshold ${threshold} kept`);
    model = fit(tr.concat(va.filter((p) => p.y >= 0)), train.concat(val.filter((e) => index.has(e.label))), ctx);
  }
  const tEval = testOf(model);

  const bytes = exportHashedModel(model, {
    labels,
    featurizer: fz,
    threshold,
    oosLabel: oosClass >= 0 ? o.oosLabel : null,
    oosRule: o.oosRule,
  });
  const report: TrainReport = {
    accuracy: tEval ? round(tEval.acc) : null,
    accuracy_top1: tEval ? round(tEval.top1) : null,
    oos_recall: tEval?.recall == null ? null : round(tEval.recall),
    val_accuracy: round(ve.acc),
    val_accuracy_top1: round(ve.top1),
    val_oos_recall: ve.recall === null ? null : round(ve.recall),
    before_refit: beforeRefit,
    vector_words: model.vec ? model.vec.V.length / model.vec.dims - 1 : 0,
    threshold,
    oos_rule: o.oosRule,
    labels,
    train_examples: tr.length,
    train_seconds: round((performance.now() - t0) / 1000, 1),
    model_bytes: bytes.length,
    seed: o.seed,
  };
  return { model: bytes, report, probabilities: (text) => predictParts(model, featurize(text, fz), tokenBuckets(text, fz)).probs, memberProbabilities: (text) => predictParts(model, featurize(text, fz), tokenBuckets(text, fz)).members };
}

interface FitCtx {
  H: number;
  D: number;
  C: number;
  o: typeof defaults & TrainOptions;
  log: (line: string) => void;
  fz: FeaturizerSettings;
  vectors: WordVectors | null;
}

/** Trains every member on `tr` (featurized `examples`), seeded afresh so a refit is reproducible. */
function fit(tr: Prepared[], examples: Example[], ctx: FitCtx): HashedModel {
  const { H, D, C, o, fz } = ctx;
  const df = new Float32Array(H);
  for (const p of tr) for (const id of p.f.ids) df[id] = df[id]! + 1;
  const idf = new Float32Array(H);
  for (let k = 0; k < H; k++) if (df[k]! > 0) idf[k] = Math.log((1 + tr.length) / (1 + df[k]!)) + 1;
  const vec = ctx.vectors ? vectorBlock(ctx.vectors, examples, fz, o.vectorExtremes) : undefined;
  // the word-vector feature does not depend on the parameters: computed once per example
  let G: Float32Array[] | null = null;
  if (vec) {
    G = tr.map((p) => {
      const w = new Float32Array(p.f.ids.length);
      weights(p.f, idf, w);
      const g = new Float32Array(featureDims(vec));
      vectorFeature(vec, p.f, w, g);
      return g;
    });
  }
  const rng = new Prng(o.seed);
  const members: Member[] = [];
  for (let mi = 0; mi < o.members; mi++) {
    members.push(trainMember(tr, G, { H, D, C, idf, rng, o, log: ctx.log, mi, vdims: vec ? featureDims(vec) : 0 }));
  }
  // the shipped tables are fp16: evaluate exactly what the ONNX file will compute
  const model: HashedModel = { buckets: H, dim: D, classes: C, idf, members, ...(o.hidden > 0 ? { hidden: o.hidden } : {}), ...(vec ? { vec } : {}), ...(o.memberAverage === 'logits' ? { averageLogits: true } : {}) };
  if (o.tables === 'int8') model.rowScale = quantizeRows(members, H, D);
  else for (const m of members) roundToHalf(m.E);
  if (o.cnnFilters > 0) {
    model.cnn = fitCnn(tr, examples, ctx);
    model.cnnWeight = o.cnnWeight;
  }
  return model;
}

/** The TextCNN on the same examples, with its own seeded PRNG (adding it leaves the members' bytes alone). */
function fitCnn(tr: Prepared[], examples: Example[], ctx: FitCtx): CnnModel {
  const { o, C } = ctx;
  const rng = new Prng((o.seed ^ 0x5c0e) >>> 0);
  const dims = ctx.vectors?.dims ?? 100;
  const { rowOf, emb } = cnnVocabulary(examples, ctx.fz, ctx.vectors, dims, rng, 3);
  const ex = tr.map((p) => ({ rows: p.tok.map((b) => rowOf[b]!), y: p.y }));
  const opts = { widths: o.cnnWidths, filters: o.cnnFilters, epochs: o.cnnEpochs, learningRate: o.cnnLearningRate, batchSize: o.batchSize, dropout: o.cnnDropout, labelSmoothing: o.labelSmoothing, fineTune: true };
  const m = trainCnn(ex, C, rowOf, emb, dims, opts, rng, ctx.log);
  // the graph stores the vectors as fp16: evaluate what it computes
  roundToHalf(m.emb);
  return m;
}

/**
 * Symmetric int8 quantisation of the tables, one fp16 scale per bucket row (over every member's
 * part of it): E becomes q * scale, exactly what the graph computes from the int8 table.
 */
function quantizeRows(members: Member[], H: number, D: number): Float32Array {
  const scale = new Float32Array(H);
  for (let r = 0; r < H; r++) {
    let max = 0;
    for (const m of members) for (let d = r * D; d < r * D + D; d++) max = Math.max(max, Math.abs(m.E[d]!));
    scale[r] = max / 127;
  }
  roundToHalf(scale);
  for (let r = 0; r < H; r++) {
    const s = scale[r]!;
    for (const m of members) {
      for (let d = r * D; d < r * D + D; d++) m.E[d] = s === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(m.E[d]! / s))) * s;
    }
  }
  return scale;
}

function roundToHalf(a: Float32Array): void {
  const h = toFloat16(a);
  for (let k = 0; k < h.length; k++) a[k] = fromFloat16(h[k]!);
}

function vocabulary(examples: Example[], fz: FeaturizerSettings): Set<string> {
  const words = new Set<string>();
  for (const e of examples) for (const t of tokenize(normalizeText(e.text, fz))) words.add(t);
  return words;
}

function loadVectors(src: string | WordVectors, examples: Example[], fz: FeaturizerSettings, log: (line: string) => void): WordVectors {
  if (typeof src !== 'string') return src;
  const t0 = performance.now();
  const words = vocabulary(examples, fz);
  const v = readWordVectors(src, words);
  log(`word vectors: ${v.vectors.size} of ${words.size} training words have a ${v.dims}-d vector (read in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  return v;
}

/**
 * The vectors of the words in `examples`, indexed by word-unigram bucket. Words are taken in
 * sorted order so that a bucket two words share always gets the same one (determinism).
 */
function vectorBlock(v: WordVectors, examples: Example[], fz: FeaturizerSettings, extremes: boolean): VectorBlock {
  const H = 2 ** fz.hashBits;
  const rowOf = new Int32Array(H);
  const rows: Float32Array[] = [];
  for (const w of [...vocabulary(examples, fz)].sort()) {
    const x = v.vectors.get(w);
    if (!x) continue;
    const b = wordBucket(w, fz);
    if (rowOf[b] !== 0) continue;
    rows.push(x);
    rowOf[b] = rows.length;
  }
  const V = new Float32Array((rows.length + 1) * v.dims);
  rows.forEach((x, i) => V.set(x.subarray(0, v.dims), (i + 1) * v.dims));
  roundToHalf(V);
  return { dims: v.dims, rowOf, V, ...(extremes ? { extremes } : {}) };
}

function round(x: number, d = 4): number {
  const f = 10 ** d;
  return Math.round(x * f) / f;
}

interface MemberCtx {
  H: number;
  D: number;
  C: number;
  idf: Float32Array;
  rng: Prng;
  o: typeof defaults & TrainOptions;
  log: (line: string) => void;
  mi: number;
  /** Word-vector dimensions (0: no word-vector block). */
  vdims: number;
}

function trainMember(tr: Prepared[], G: Float32Array[] | null, ctx: MemberCtx): Member {
  const { H, D, C, idf, rng, o, vdims } = ctx;
  // U: width of the hidden layer (the bag's own width without a separate one)
  const U = o.hidden > 0 ? o.hidden : D;
  const E = new Float32Array(H * D);
  const a = 1 / Math.sqrt(D);
  for (let k = 0; k < E.length; k++) E[k] = (rng.next() * 2 - 1) * a * 0.5;
  const W2 = new Float32Array(U * C);
  const a2 = Math.sqrt(6 / (U + C));
  for (let k = 0; k < W2.length; k++) W2[k] = (rng.next() * 2 - 1) * a2;
  const m: Member = { E, b1: new Float32Array(U), W2, b2: new Float32Array(C) };
  const P = new Float32Array(vdims * U);
  const aP = Math.sqrt(6 / (vdims + U));
  for (let k = 0; k < P.length; k++) P[k] = (rng.next() * 2 - 1) * aP;
  if (vdims > 0) m.P = P;
  const mP = new Float32Array(P.length), vP = new Float32Array(P.length), gP = new Float32Array(P.length);
  const A = new Float32Array(o.hidden > 0 ? D * U : 0);
  const aA = Math.sqrt(6 / (D + U));
  for (let k = 0; k < A.length; k++) A[k] = (rng.next() * 2 - 1) * aA;
  if (A.length > 0) m.A = A;
  const mA = new Float32Array(A.length), vA = new Float32Array(A.length), gA = new Float32Array(A.length);
  const e = new Float32Array(D), de = new Float32Array(D);

  // Adam state; the embedding table's moments are updated lazily, row by touched row
  const mE = new Float32Array(H * D), vE = new Float32Array(H * D), gE = new Float32Array(H * D);
  const touched = new Uint8Array(H);
  const rows: number[] = [];
  const mW = new Float32Array(U * C), vW = new Float32Array(U * C), gW = new Float32Array(U * C);
  const mb1 = new Float32Array(U), vb1 = new Float32Array(U), gb1 = new Float32Array(U);
  const mb2 = new Float32Array(C), vb2 = new Float32Array(C), gb2 = new Float32Array(C);
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;

  const order = new Int32Array(tr.length).map((_, i) => i);
  const w = new Float32Array(Math.max(1, ...tr.map((p) => p.f.ids.length)));
  const h = new Float32Array(U), keep = new Float32Array(U), z = new Float32Array(C), dh = new Float32Array(U);
  const pKeep = 1 - o.dropout;
  const fKeep = 1 - o.featureDropout;
  const smooth = o.labelSmoothing;
  const steps = Math.ceil(tr.length / o.batchSize) * o.epochs;
  let t = 0;
  const tStart = performance.now();
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    rng.shuffle(order);
    let loss = 0;
    for (let s = 0; s < tr.length; s += o.batchSize) {
      const end = Math.min(tr.length, s + o.batchSize);
      for (let i = s; i < end; i++) {
        const ex = tr[order[i]!]!;
        const f = ex.f;
        const g = G ? G[order[i]!]! : undefined;
        weights(f, idf, w);
        if (fKeep < 1) for (let j = 0; j < f.ids.length; j++) w[j] = rng.next() < fKeep ? w[j]! / fKeep : 0;
        hidden(m, D, f, w, h, g, e);
        for (let d = 0; d < U; d++) {
          const k = rng.next() < pKeep ? 1 / pKeep : 0;
          keep[d] = k;
          h[d] = h[d]! * k;
        }
        logits(m, U, C, h, z);
        softmaxInPlace(z);
        loss -= Math.log(Math.max(z[ex.y]!, 1e-12));
        // dz = p - smoothed one-hot
        for (let c = 0; c < C; c++) z[c] = z[c]! - smooth / C - (c === ex.y ? 1 - smooth : 0);
        for (let c = 0; c < C; c++) gb2[c] = gb2[c]! + z[c]!;
        for (let d = 0; d < U; d++) {
          const hd = h[d]!;
          const off = d * C;
          let acc = 0;
          for (let c = 0; c < C; c++) {
            const zc = z[c]!;
            if (hd !== 0) gW[off + c] = gW[off + c]! + hd * zc;
            acc += m.W2[off + c]! * zc;
          }
          // relu' and dropout mask (h is 0 where either cut the unit)
          dh[d] = hd > 0 ? acc * keep[d]! : 0;
          gb1[d] = gb1[d]! + dh[d]!;
        }
        // through the hidden layer back to the bag: de = A dh (the bag's gradient), gA = e x dh
        const dbag = A.length > 0 ? de : dh;
        if (A.length > 0) {
          for (let d = 0; d < D; d++) {
            const ed = e[d]!;
            const off = d * U;
            let acc = 0;
            for (let u = 0; u < U; u++) {
              const du = dh[u]!;
              gA[off + u] = gA[off + u]! + ed * du;
              acc += A[off + u]! * du;
            }
            de[d] = acc;
          }
        }
        for (let j = 0; j < f.ids.length; j++) {
          const id = f.ids[j]!;
          const wj = w[j]!;
          if (wj === 0) continue;
          if (!touched[id]) {
            touched[id] = 1;
            rows.push(id);
          }
          const off = id * D;
          for (let d = 0; d < D; d++) gE[off + d] = gE[off + d]! + wj * dbag[d]!;
        }
        if (g) {
          for (let k = 0; k < vdims; k++) {
            const gk = g[k]!;
            const off = k * U;
            for (let d = 0; d < U; d++) gP[off + d] = gP[off + d]! + gk * dh[d]!;
          }
        }
      }
      // Adam step, learning rate decaying linearly to 10%
      t++;
      const lr = o.learningRate * (1 - 0.9 * (t / steps));
      const n = end - s;
      const c1 = 1 / (1 - b1 ** t), c2 = 1 / (1 - b2 ** t);
      const adam = (p: Float32Array, g: Float32Array, mm: Float32Array, vv: Float32Array, k: number): void => {
        const gk = g[k]! / n;
        g[k] = 0;
        mm[k] = b1 * mm[k]! + (1 - b1) * gk;
        vv[k] = b2 * vv[k]! + (1 - b2) * gk * gk;
        p[k] = p[k]! - (lr * mm[k]! * c1) / (Math.sqrt(vv[k]! * c2) + eps);
      };
      for (let k = 0; k < W2.length; k++) adam(W2, gW, mW, vW, k);
      for (let k = 0; k < U; k++) adam(m.b1, gb1, mb1, vb1, k);
      for (let k = 0; k < C; k++) adam(m.b2, gb2, mb2, vb2, k);
      for (let k = 0; k < P.length; k++) adam(P, gP, mP, vP, k);
      for (let k = 0; k < A.length; k++) adam(A, gA, mA, vA, k);
      const lc1 = lr * c1;
      for (const id of rows) {
        touched[id] = 0;
        const end2 = id * D + D;
        for (let k = id * D; k < end2; k++) {
          const gk = gE[k]! / n;
          gE[k] = 0;
          const mk = (mE[k] = b1 * mE[k]! + (1 - b1) * gk);
          const vk = (vE[k] = b2 * vE[k]! + (1 - b2) * gk * gk);
          E[k] = E[k]! - (lc1 * mk) / (Math.sqrt(vk * c2) + eps);
        }
      }
      rows.length = 0;
    }
    ctx.log(`member ${ctx.mi + 1} epoch ${epoch + 1}/${o.epochs}: loss ${(loss / tr.length).toFixed(4)} (${((performance.now() - tStart) / 1000).toFixed(1)} s)`);
  }
  return m;
}
