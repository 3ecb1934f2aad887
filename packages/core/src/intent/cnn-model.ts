/**
 * A Kim-style TextCNN over word vectors (session 5): token rows -> embeddings -> one convolution
 * per window width (F filters each) -> max over time -> relu -> linear -> softmax. The forward
 * pass here is the reference the trainer optimises and the ONNX graph must reproduce.
 *
 * Sequence layout, fixed so that batching cannot change a text's result: the text's token rows,
 * then one padding row (0, an all-zero vector), with width-1 padding rows on both sides of each
 * convolution. The last window is then all padding (its value is the filter's bias), so the zero
 * rows a batch adds after a shorter text only repeat a window every text already has.
 */
import { normalizeText, tokenize, wordBucket, type FeaturizerSettings } from './featurizer.js';

export interface CnnModel {
  dims: number;
  /** Window widths of the convolutions, e.g. [1, 2, 3]. */
  widths: number[];
  /** Filters per width. */
  filters: number;
  classes: number;
  /** Word-unigram bucket -> row of `emb` (0: no vector, the padding row). */
  rowOf: Int32Array;
  /** [rows, dims], row 0 zero. */
  emb: Float32Array;
  /** Per width k: [k x dims, filters], row-major (window position-major, then dimension). */
  convW: Float32Array[];
  /** Per width: [filters]. */
  convB: Float32Array[];
  /** [widths x filters, classes]. */
  outW: Float32Array;
  outB: Float32Array;
}

/** Tokens the CNN reads per text (after the featurizer's `maxChars` cut); later ones are ignored. */
export const CNN_MAX_TOKENS = 64;

/** The word-unigram buckets of a text's first CNN_MAX_TOKENS tokens, in order (what the graph's `tok` input carries, + 1). */
export function tokenBuckets(text: string, fz: FeaturizerSettings): Int32Array {
  const toks = tokenize(normalizeText(text, fz));
  const n = Math.min(toks.length, CNN_MAX_TOKENS);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = wordBucket(toks[i]!, fz);
  return out;
}

/** The embedding rows of a text's tokens, in order. */
export function tokenRows(text: string, fz: FeaturizerSettings, rowOf: Int32Array): Int32Array {
  return tokenBuckets(text, fz).map((b) => rowOf[b]!);
}

/**
 * Embedded sequence of a text with the layout above: [(k-1) + n + 1 + (k-1), dims] for the
 * widest k, into a fresh array. Narrower widths read it from an offset.
 */
export function embedSequence(m: CnnModel, rows: Int32Array, maxWidth: number): Float32Array {
  const D = m.dims;
  const pad = maxWidth - 1;
  const X = new Float32Array((pad + rows.length + 1 + pad) * D);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    if (r !== 0) X.set(m.emb.subarray(r * D, r * D + D), (pad + i) * D);
  }
  return X;
}

/**
 * Max-pooled convolution of width `k` over X (see embedSequence): writes the pooled values into
 * `pooled` (filters long) and the argmax window start into `arg`; `acc` is scratch (filters).
 */
export function convPool(
  X: Float32Array, n: number, maxWidth: number, k: number, D: number, W: Float32Array, b: Float32Array,
  pooled: Float32Array, arg: Int32Array, acc: Float32Array,
): void {
  const F = b.length;
  // windows of width k over [(k-1) pads, n tokens, 1 pad, (k-1) pads], which start at row maxWidth - k of X
  const first = maxWidth - k;
  const windows = n + k;
  pooled.fill(-Infinity);
  for (let t = 0; t < windows; t++) {
    acc.set(b);
    const base = (first + t) * D;
    for (let i = 0; i < k * D; i++) {
      const x = X[base + i]!;
      if (x === 0) continue;
      const off = i * F;
      for (let f = 0; f < F; f++) acc[f] = acc[f]! + x * W[off + f]!;
    }
    for (let f = 0; f < F; f++) {
      if (acc[f]! > pooled[f]!) {
        pooled[f] = acc[f]!;
        arg[f] = first + t;
      }
    }
  }
}

/** Pre-softmax scores of one text (rows from tokenRows) into `z`; `h` receives the relu'd pooled features. */
export function cnnLogits(m: CnnModel, rows: Int32Array, z: Float32Array, h?: Float32Array): void {
  const maxWidth = Math.max(...m.widths);
  const X = embedSequence(m, rows, maxWidth);
  const F = m.filters;
  const hid = h ?? new Float32Array(F * m.widths.length);
  const pooled = new Float32Array(F), arg = new Int32Array(F), acc = new Float32Array(F);
  m.widths.forEach((k, wi) => {
    convPool(X, rows.length, maxWidth, k, m.dims, m.convW[wi]!, m.convB[wi]!, pooled, arg, acc);
    for (let f = 0; f < F; f++) hid[wi * F + f] = pooled[f]! > 0 ? pooled[f]! : 0;
  });
  const C = m.classes;
  z.set(m.outB);
  for (let u = 0; u < hid.length; u++) {
    const hu = hid[u]!;
    if (hu === 0) continue;
    const off = u * C;
    for (let c = 0; c < C; c++) z[c] = z[c]! + hu * m.outW[off + c]!;
  }
}
