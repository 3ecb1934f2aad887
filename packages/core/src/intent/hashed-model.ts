/**
 * The hashed n-gram classifier's parameters and its forward pass in plain TypeScript, used by
 * the trainer (with fp32 tables) and for evaluating the exported model (with the fp16-rounded
 * embedding table the ONNX file holds, so reported accuracy is the shipped model's).
 *
 * One member: v = tf * idf[id], L2-normalised; a = sum_j v_j * E[id_j] (+ g P) + b1; h = relu(a);
 * p = softmax(h W2 + b2), where g is the optional pretrained word-vector feature (wordMean).
 * With a hidden layer (`A`), the bag e = sum_j v_j * E[id_j] stays linear and narrow (the
 * table's width is what costs bytes) and h = relu(e A + g P + b1) is as wide as `A` has columns:
 * the two feature blocks then mix non-linearly in a layer that costs almost no bytes.
 * An ensemble averages the members' probabilities.
 */
import type { Features } from './featurizer.js';
import { cnnLogits, type CnnModel } from './cnn-model.js';

export interface Member {
  /** [buckets, dim] embedding table. */
  E: Float32Array;
  /** [vectorDims, width] projection of the word-vector block into the hidden layer (with `vec` only). */
  P?: Float32Array;
  /** [dim, width] hidden layer after the bag (with `HashedModel.hidden` only; else width = dim). */
  A?: Float32Array;
  /** [width]. */
  b1: Float32Array;
  /** [width, classes], row-major. */
  W2: Float32Array;
  b2: Float32Array;
}

export interface HashedModel {
  buckets: number;
  dim: number;
  classes: number;
  /** Inverse document frequency per bucket (0 for buckets never seen in training). */
  idf: Float32Array;
  members: Member[];
  /** Width of the hidden layer after the bag (each member then has `A`); absent: the bag is the hidden layer. */
  hidden?: number;
  /** Optional pretrained word vectors, looked up by word-unigram bucket. */
  vec?: VectorBlock;
  /**
   * Set when the tables are stored as int8: the scale of each bucket's row (shared by the
   * members' parts of it); the members' `E` then hold the dequantised values.
   */
  rowScale?: Float32Array;
  /**
   * A TextCNN beside the members (session 5): the model's probabilities are
   * (1 - cnnWeight) x the members' average + cnnWeight x the CNN's.
   */
  cnn?: CnnModel;
  cnnWeight?: number;
  /**
   * The members' logits are averaged and then soft-maxed (session 6), instead of averaging
   * their probabilities: a geometric mean, where a member that is sure a class is wrong
   * counts for more.
   */
  averageLogits?: boolean;
}

/**
 * Pretrained word vectors of the training vocabulary (frozen). `rowOf[bucket]` is the row of
 * `V` holding the vector of the word hashed to that bucket; row 0 is all zeros, for buckets
 * without a word vector, so every language works (words without a vector add nothing).
 */
export interface VectorBlock {
  dims: number;
  rowOf: Int32Array;
  /** [rows, dims], row 0 zero. */
  V: Float32Array;
  /**
   * The feature also holds the element-wise maximum and minimum of the text's word vectors
   * (wordExtremes) after the mean: 3 x dims numbers instead of dims.
   */
  extremes?: boolean;
}

/** Length of the word-vector feature of a block. */
export function featureDims(vec: VectorBlock): number {
  return vec.extremes ? 3 * vec.dims : vec.dims;
}

/**
 * The word-vector feature of one text into `g` (featureDims long): wordMean, then with
 * `extremes` wordExtremes.
 */
export function vectorFeature(vec: VectorBlock, f: Features, w: Float32Array, g: Float32Array): void {
  wordMean(vec, f, w, g.subarray(0, vec.dims));
  if (vec.extremes) wordExtremes(vec, f, w, g.subarray(vec.dims));
}

/**
 * Element-wise max and min (into `out`: max then min, dims each) over the vectors of the text's
 * features with a weight above 0, clipped at 0 from below and above respectively (the ONNX graph
 * pads texts with zero rows, so 0 is part of every max and min there), times 1/sqrt(dims) to
 * bring them near the scale of the unit-length mean. Where the mean blurs a text's words
 * together, the extremes keep the strongest direction a single word adds.
 */
export function wordExtremes(vec: VectorBlock, f: Features, w: Float32Array, out: Float32Array): void {
  const { dims, rowOf, V } = vec;
  out.fill(0);
  for (let j = 0; j < f.ids.length; j++) {
    if (!(w[j]! > 0)) continue;
    const r = rowOf[f.ids[j]!]!;
    if (r === 0) continue;
    const off = r * dims;
    for (let k = 0; k < dims; k++) {
      const x = V[off + k]!;
      if (x > out[k]!) out[k] = x;
      else if (x < out[dims + k]!) out[dims + k] = x;
    }
  }
  const s = extremesScale(dims);
  for (let k = 0; k < 2 * dims; k++) out[k] = out[k]! * s;
}

/** The factor applied to the extremes (also a constant of the graph). */
export function extremesScale(dims: number): number {
  return Math.fround(1 / Math.sqrt(dims));
}

/** Added to the squared norm before the square root, here and in the ONNX graph. */
export const VEC_EPS = 1e-6;

/**
 * The word-vector feature of one text: the tf-idf-weighted sum of its words' vectors, scaled to
 * unit length (a direction, like a sentence embedding); zero when no word has a vector.
 */
export function wordMean(vec: VectorBlock, f: Features, w: Float32Array, g: Float32Array): void {
  const { dims, rowOf, V } = vec;
  g.fill(0);
  for (let j = 0; j < f.ids.length; j++) {
    const r = rowOf[f.ids[j]!]!;
    if (r === 0) continue;
    const wj = w[j]!;
    const off = r * dims;
    for (let k = 0; k < dims; k++) g[k] = g[k]! + wj * V[off + k]!;
  }
  let ss = 0;
  for (let k = 0; k < dims; k++) ss += g[k]! * g[k]!;
  const inv = 1 / Math.sqrt(ss + VEC_EPS);
  for (let k = 0; k < dims; k++) g[k] = g[k]! * inv;
}

/** L2-normalised tf-idf weights of one text's features, written into `out`. */
export function weights(f: Features, idf: Float32Array, out: Float32Array): void {
  let ss = 0;
  for (let j = 0; j < f.ids.length; j++) {
    const v = f.tf[j]! * idf[f.ids[j]!]!;
    out[j] = v;
    ss += v * v;
  }
  const inv = 1 / Math.sqrt(Math.max(ss, 1e-12));
  for (let j = 0; j < f.ids.length; j++) out[j] = out[j]! * inv;
}

/**
 * Hidden activations of one member (after relu); fills `h` (length: the member's width). `g`:
 * wordMean's output; `e`: scratch of length `dim` for the bag, needed when the member has `A`
 * (and left holding the bag, which the trainer's backward pass reuses).
 */
export function hidden(m: Member, dim: number, f: Features, w: Float32Array, h: Float32Array, g?: Float32Array, e?: Float32Array): void {
  const U = h.length;
  h.set(m.b1);
  // without `A` the summation order (bias, vectors, bag) is the one earlier models were trained with
  if (g && m.P) {
    const P = m.P;
    for (let k = 0; k < g.length; k++) {
      const gk = g[k]!;
      if (gk === 0) continue;
      const off = k * U;
      for (let u = 0; u < U; u++) h[u] = h[u]! + gk * P[off + u]!;
    }
  }
  const bag = m.A ? e! : h;
  if (m.A) bag.fill(0);
  for (let j = 0; j < f.ids.length; j++) {
    const wj = w[j]!;
    if (wj === 0) continue;
    const off = f.ids[j]! * dim;
    for (let d = 0; d < dim; d++) bag[d] = bag[d]! + wj * m.E[off + d]!;
  }
  if (m.A) {
    const A = m.A;
    for (let d = 0; d < dim; d++) {
      const ed = bag[d]!;
      if (ed === 0) continue;
      const off = d * U;
      for (let u = 0; u < U; u++) h[u] = h[u]! + ed * A[off + u]!;
    }
  }
  for (let u = 0; u < U; u++) if (h[u]! < 0) h[u] = 0;
}

/** Logits of one member into `z`; `width` is the length of `h`. */
export function logits(m: Member, width: number, classes: number, h: Float32Array, z: Float32Array): void {
  z.set(m.b2);
  for (let d = 0; d < width; d++) {
    const hd = h[d]!;
    if (hd === 0) continue;
    const off = d * classes;
    for (let c = 0; c < classes; c++) z[c] = z[c]! + hd * m.W2[off + c]!;
  }
}

export function softmaxInPlace(z: Float32Array): void {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) if (z[c]! > max) max = z[c]!;
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    const e = Math.exp(z[c]! - max);
    z[c] = e;
    sum += e;
  }
  for (let c = 0; c < z.length; c++) z[c] = z[c]! / sum;
}

/** Class probabilities of the CNN for one text's word buckets (cnn-model.ts tokenBuckets). */
export function cnnProbabilities(m: CnnModel, buckets: Int32Array): Float32Array {
  const z = new Float32Array(m.classes);
  cnnLogits(m, buckets.map((b) => m.rowOf[b]!), z);
  softmaxInPlace(z);
  return z;
}

/**
 * Averaged class probabilities of the whole model for one text's features (and, for a model with
 * a CNN, its word buckets).
 */
export function predict(model: HashedModel, f: Features, buckets?: Int32Array): Float32Array {
  return predictParts(model, f, buckets).probs;
}

/**
 * The model's probabilities and the members' own average (`members`; the same array as `probs`
 * without a CNN): the `members-margin` out-of-scope rule reads the second.
 */
export function predictParts(model: HashedModel, f: Features, buckets?: Int32Array): { probs: Float32Array; members: Float32Array } {
  const h = predictMembers(model, f);
  if (!model.cnn) return { probs: h, members: h };
  if (!buckets) throw new TypeError('a model with a CNN needs the text\'s word buckets');
  const q = cnnProbabilities(model.cnn, buckets);
  const a = model.cnnWeight ?? 0.5;
  const p = new Float32Array(h.length);
  for (let c = 0; c < p.length; c++) p[c] = (1 - a) * h[c]! + a * q[c]!;
  return { probs: p, members: h };
}

function predictMembers(model: HashedModel, f: Features): Float32Array {
  const w = new Float32Array(f.ids.length);
  weights(f, model.idf, w);
  const h = new Float32Array(model.hidden ?? model.dim);
  const e = new Float32Array(model.dim);
  const z = new Float32Array(model.classes);
  const p = new Float32Array(model.classes);
  let g: Float32Array | undefined;
  if (model.vec) {
    g = new Float32Array(featureDims(model.vec));
    vectorFeature(model.vec, f, w, g);
  }
  for (const m of model.members) {
    hidden(m, model.dim, f, w, h, g, e);
    logits(m, h.length, model.classes, h, z);
    if (!model.averageLogits) softmaxInPlace(z);
    for (let c = 0; c < p.length; c++) p[c] = p[c]! + z[c]! / model.members.length;
  }
  if (model.averageLogits) softmaxInPlace(p);
  return p;
}
