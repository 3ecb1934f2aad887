/**
 * The hashed n-gram classifier's parameters and its forward pass in plain TypeScript, used by
 * the trainer (with fp32 tables) and for evaluating the exported model (with the fp16-rounded
 * embedding table the ONNX file holds, so reported accuracy is the shipped model's).
 *
 * One member: v = tf * idf[id], L2-normalised; a = sum_j v_j * E[id_j] + b1; h = relu(a);
 * p = softmax(h W2 + b2). An ensemble averages the members' probabilities.
 */
import type { Features } from './featurizer.js';

export interface Member {
  /** [buckets, dim] embedding table. */
  E: Float32Array;
  b1: Float32Array;
  /** [dim, classes], row-major. */
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

/** Hidden activations of one member (after relu); returns nothing, fills `h`. */
export function hidden(m: Member, dim: number, f: Features, w: Float32Array, h: Float32Array): void {
  h.set(m.b1);
  for (let j = 0; j < f.ids.length; j++) {
    const wj = w[j]!;
    if (wj === 0) continue;
    const off = f.ids[j]! * dim;
    for (let d = 0; d < dim; d++) h[d] = h[d]! + wj * m.E[off + d]!;
  }
  for (let d = 0; d < dim; d++) if (h[d]! < 0) h[d] = 0;
}

/** Softmax logits -> probabilities of one member, in place on `z`. */
export function logits(m: Member, dim: number, classes: number, h: Float32Array, z: Float32Array): void {
  z.set(m.b2);
  for (let d = 0; d < dim; d++) {
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

/** Averaged class probabilities of the whole model for one text's features. */
export function predict(model: HashedModel, f: Features): Float32Array {
  const w = new Float32Array(f.ids.length);
  weights(f, model.idf, w);
  const h = new Float32Array(model.dim);
  const z = new Float32Array(model.classes);
  const p = new Float32Array(model.classes);
  for (const m of model.members) {
    hidden(m, model.dim, f, w, h);
    logits(m, model.dim, model.classes, h, z);
    softmaxInPlace(z);
    for (let c = 0; c < p.length; c++) p[c] = p[c]! + z[c]! / model.members.length;
  }
  return p;
}
