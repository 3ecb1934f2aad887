/**
 * Trains the TextCNN (cnn-model.ts) with Adam in plain TypeScript: single-threaded and seeded, so
 * the same data and options give the same weights. The word vectors are fine-tuned (lazily, only
 * the rows a batch used); words of the training texts without a pretrained vector start random.
 */
import { normalizeText, tokenize, wordBucket, type FeaturizerSettings } from './featurizer.js';
import { convPool, embedSequence, tokenRows, type CnnModel } from './cnn-model.js';
import { softmaxInPlace } from './hashed-model.js';
import type { WordVectors } from './word-vectors.js';
import type { Example } from './dataset.js';
import { Prng } from './prng.js';

export interface CnnTrainOptions {
  widths: number[];
  filters: number;
  epochs: number;
  learningRate: number;
  batchSize: number;
  dropout: number;
  labelSmoothing: number;
  /** Update the word vectors too (Kim's "non-static"). */
  fineTune: boolean;
}

export interface CnnExample {
  rows: Int32Array;
  y: number;
}

/**
 * The embedding table of the training vocabulary, by word-unigram bucket. Words are taken in
 * sorted order so that a bucket two words share always gets the same one (determinism). Pretrained
 * vectors are scaled to length `norm` (a common scale for the filters' initialisation).
 */
export function cnnVocabulary(examples: Example[], fz: FeaturizerSettings, vectors: WordVectors | null, dims: number, rng: Prng, norm = 1): { rowOf: Int32Array; emb: Float32Array } {
  const words = new Set<string>();
  for (const e of examples) for (const t of tokenize(normalizeText(e.text, fz))) words.add(t);
  const rowOf = new Int32Array(2 ** fz.hashBits);
  const chosen: string[] = [];
  for (const w of [...words].sort()) {
    const b = wordBucket(w, fz);
    if (rowOf[b] !== 0) continue;
    chosen.push(w);
    rowOf[b] = chosen.length;
  }
  const emb = new Float32Array((chosen.length + 1) * dims);
  const a = norm * Math.sqrt(3 / dims);
  chosen.forEach((w, i) => {
    const off = (i + 1) * dims;
    const v = vectors?.vectors.get(w);
    if (v) {
      let ss = 0;
      for (let d = 0; d < dims; d++) ss += v[d]! * v[d]!;
      const inv = norm / Math.sqrt(ss + 1e-12);
      for (let d = 0; d < dims; d++) emb[off + d] = v[d]! * inv;
    } else {
      for (let d = 0; d < dims; d++) emb[off + d] = (rng.next() * 2 - 1) * a;
    }
  });
  return { rowOf, emb };
}

/** Token rows of each example (labels mapped with `index`; unknown labels -1). */
export function cnnExamples(examples: Example[], index: Map<string, number>, fz: FeaturizerSettings, rowOf: Int32Array): CnnExample[] {
  return examples.map((e) => ({ rows: tokenRows(e.text, fz, rowOf), y: index.get(e.label) ?? -1 }));
}

/** Trains a TextCNN on `tr`; `rowOf`/`emb` from cnnVocabulary (emb is updated in place). */
export function trainCnn(
  tr: CnnExample[], classes: number, rowOf: Int32Array, emb: Float32Array, dims: number, o: CnnTrainOptions, rng: Prng,
  log: (line: string) => void,
): CnnModel {
  const F = o.filters, C = classes, D = dims;
  const NW = o.widths.length;
  const U = F * NW;
  const maxWidth = Math.max(...o.widths);
  const convW = o.widths.map((k) => {
    const W = new Float32Array(k * D * F);
    const a = Math.sqrt(6 / (k * D + F));
    for (let i = 0; i < W.length; i++) W[i] = (rng.next() * 2 - 1) * a;
    return W;
  });
  const convB = o.widths.map(() => new Float32Array(F));
  const outW = new Float32Array(U * C);
  const a2 = Math.sqrt(6 / (U + C));
  for (let i = 0; i < outW.length; i++) outW[i] = (rng.next() * 2 - 1) * a2;
  const outB = new Float32Array(C);
  const m: CnnModel = { dims: D, widths: o.widths, filters: F, classes: C, rowOf, emb, convW, convB, outW, outB };

  // Adam state: [param, grad, m, v] per dense tensor; the embedding table's is lazy by row
  const dense = [...convW, ...convB, outW, outB].map((p) => ({ p, g: new Float32Array(p.length), m: new Float32Array(p.length), v: new Float32Array(p.length) }));
  const gConvW = dense.slice(0, NW).map((x) => x.g);
  const gConvB = dense.slice(NW, 2 * NW).map((x) => x.g);
  const gOutW = dense[2 * NW]!.g, gOutB = dense[2 * NW + 1]!.g;
  const gE = new Float32Array(o.fineTune ? emb.length : 0), mE = new Float32Array(gE.length), vE = new Float32Array(gE.length);
  const touched = new Uint8Array(emb.length / D);
  const rowsUsed: number[] = [];

  const pooled = o.widths.map(() => new Float32Array(F));
  const arg = o.widths.map(() => new Int32Array(F));
  const acc = new Float32Array(F);
  const h = new Float32Array(U), keep = new Float32Array(U), z = new Float32Array(C), dh = new Float32Array(U);
  const pKeep = 1 - o.dropout;
  const b1 = 0.9, b2 = 0.999, eps = 1e-8;
  const order = new Int32Array(tr.length).map((_, i) => i);
  const steps = Math.ceil(tr.length / o.batchSize) * o.epochs;
  let t = 0;
  const t0 = performance.now();
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    rng.shuffle(order);
    let loss = 0;
    for (let s = 0; s < tr.length; s += o.batchSize) {
      const end = Math.min(tr.length, s + o.batchSize);
      for (let i = s; i < end; i++) {
        const ex = tr[order[i]!]!;
        const n = ex.rows.length;
        const X = embedSequence(m, ex.rows, maxWidth);
        for (let wi = 0; wi < NW; wi++) {
          convPool(X, n, maxWidth, o.widths[wi]!, D, convW[wi]!, convB[wi]!, pooled[wi]!, arg[wi]!, acc);
          for (let f = 0; f < F; f++) {
            const k = rng.next() < pKeep ? 1 / pKeep : 0;
            const u = wi * F + f;
            keep[u] = k;
            const v = pooled[wi]![f]!;
            h[u] = v > 0 ? v * k : 0;
          }
        }
        z.set(outB);
        for (let u = 0; u < U; u++) {
          const hu = h[u]!;
          if (hu === 0) continue;
          const off = u * C;
          for (let c = 0; c < C; c++) z[c] = z[c]! + hu * outW[off + c]!;
        }
        softmaxInPlace(z);
        loss -= Math.log(Math.max(z[ex.y]!, 1e-12));
        for (let c = 0; c < C; c++) z[c] = z[c]! - o.labelSmoothing / C - (c === ex.y ? 1 - o.labelSmoothing : 0);
        for (let c = 0; c < C; c++) gOutB[c] = gOutB[c]! + z[c]!;
        for (let u = 0; u < U; u++) {
          const hu = h[u]!;
          const off = u * C;
          let sum = 0;
          for (let c = 0; c < C; c++) {
            if (hu !== 0) gOutW[off + c] = gOutW[off + c]! + hu * z[c]!;
            sum += outW[off + c]! * z[c]!;
          }
          dh[u] = hu > 0 ? sum * keep[u]! : 0;
        }
        // the max lets each filter's gradient through to its winning window only
        for (let wi = 0; wi < NW; wi++) {
          const k = o.widths[wi]!;
          const W = convW[wi]!, gW = gConvW[wi]!, gB = gConvB[wi]!, am = arg[wi]!;
          for (let f = 0; f < F; f++) {
            const g = dh[wi * F + f]!;
            if (g === 0) continue;
            gB[f] = gB[f]! + g;
            const start = am[f]!;
            const base = start * D;
            for (let i = 0; i < k * D; i++) {
              const x = X[base + i]!;
              if (x !== 0) gW[i * F + f] = gW[i * F + f]! + x * g;
            }
            if (!o.fineTune) continue;
            // the window's rows, back to the token rows they came from (padding rows have no parameters)
            for (let j = 0; j < k; j++) {
              const pos = start + j - (maxWidth - 1);
              if (pos < 0 || pos >= n) continue;
              const r = ex.rows[pos]!;
              if (r === 0) continue;
              if (!touched[r]) {
                touched[r] = 1;
                rowsUsed.push(r);
              }
              const eo = r * D, wo = j * D * F + f;
              for (let d = 0; d < D; d++) gE[eo + d] = gE[eo + d]! + W[wo + d * F]! * g;
            }
          }
        }
      }
      t++;
      const lr = o.learningRate * (1 - 0.9 * (t / steps));
      const n = end - s;
      const c1 = 1 / (1 - b1 ** t), c2 = 1 / (1 - b2 ** t);
      for (const { p, g, m: mm, v: vv } of dense) {
        for (let k = 0; k < p.length; k++) {
          const gk = g[k]! / n;
          g[k] = 0;
          mm[k] = b1 * mm[k]! + (1 - b1) * gk;
          vv[k] = b2 * vv[k]! + (1 - b2) * gk * gk;
          p[k] = p[k]! - (lr * mm[k]! * c1) / (Math.sqrt(vv[k]! * c2) + eps);
        }
      }
      for (const r of rowsUsed) {
        touched[r] = 0;
        for (let k = r * D; k < r * D + D; k++) {
          const gk = gE[k]! / n;
          gE[k] = 0;
          mE[k] = b1 * mE[k]! + (1 - b1) * gk;
          vE[k] = b2 * vE[k]! + (1 - b2) * gk * gk;
          emb[k] = emb[k]! - (lr * mE[k]! * c1) / (Math.sqrt(vE[k]! * c2) + eps);
        }
      }
      rowsUsed.length = 0;
    }
    log(`cnn epoch ${epoch + 1}/${o.epochs}: loss ${(loss / tr.length).toFixed(4)} (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  }
  return m;
}
