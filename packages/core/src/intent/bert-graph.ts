/**
 * Builds BERT-family encoder graphs (post-LayerNorm, GELU, [CLS] pooler, linear head) with
 * seeded random weights, written with Kefu's own ONNX writer. Tests use a tiny one to exercise
 * the bring-your-own-transformer path end to end; the benchmark builds BERT-base and DistilBERT
 * shaped ones to time them through the same runtime (random weights time the same as trained).
 */
import { AttributeType, DataType, encodeModel, floatTensor, int64Tensor, type NodeInit, type TensorInit } from './onnx-proto.js';
import { META } from './metadata.js';
import { Prng } from './prng.js';

export interface BertGraphOptions {
  /** Vocabulary size (rows of the word embedding table). */
  vocabSize: number;
  /** Hidden width. @defaultValue 768 */
  hidden?: number;
  /** Encoder layers. @defaultValue 12 */
  layers?: number;
  /** Attention heads (must divide hidden). @defaultValue 12 */
  heads?: number;
  /** Feed-forward width. @defaultValue 4 * hidden */
  intermediate?: number;
  /** Position embedding rows (longest sequence). @defaultValue 512 */
  maxPositions?: number;
  /** Output classes; written as `kefu.labels` metadata when `labels` is given. */
  classes: number;
  /** Labels to store in the metadata. @defaultValue none (the classifier then needs `labels`) */
  labels?: string[];
  /** Out-of-scope threshold to store in the metadata. @defaultValue none */
  oosThreshold?: number;
  /** Use token_type_ids (BERT) or not (DistilBERT). @defaultValue true */
  tokenTypes?: boolean;
  /** Weight PRNG seed. @defaultValue 1 */
  seed?: number;
}

/** Returns the ONNX bytes of a BERT-shaped classifier (inputs input_ids, attention_mask[, token_type_ids]; output logits). */
export function buildBertGraph(opts: BertGraphOptions): Uint8Array {
  const H = opts.hidden ?? 768;
  const L = opts.layers ?? 12;
  const NH = opts.heads ?? 12;
  const FF = opts.intermediate ?? 4 * H;
  const P = opts.maxPositions ?? 512;
  const C = opts.classes;
  const V = opts.vocabSize;
  const useTT = opts.tokenTypes ?? true;
  if (H % NH !== 0) throw new RangeError('heads must divide hidden');
  const dh = H / NH;
  const rng = new Prng(opts.seed ?? 1);
  const inits: TensorInit[] = [];
  const nodes: NodeInit[] = [];
  // a seeded random block tiled over each table: BERT-base has 110M weights, and drawing each
  // one costs seconds while timing is the same for any non-denormal values
  const block = new Float32Array(65_521);
  for (let i = 0; i < block.length; i++) block[i] = (rng.next() * 2 - 1) * 0.02 * 1.732;
  const rand = (name: string, dims: number[]): string => {
    const n = dims.reduce((a, b) => a * b, 1);
    const a = new Float32Array(n);
    const off = rng.int(block.length);
    for (let i = 0; i < n; i += block.length - off) a.set(block.subarray(off, Math.min(block.length, off + n - i)), i);
    inits.push(floatTensor(name, dims, a));
    return name;
  };
  const fill = (name: string, dims: number[], v: number): string => {
    inits.push(floatTensor(name, dims, new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(v)));
    return name;
  };
  const scalar = (name: string, v: number): string => {
    inits.push(floatTensor(name, [], new Float32Array([v])));
    return name;
  };
  let k = 0;
  const op = (opType: string, input: string[], attribute: NodeInit['attribute'] = []): string => {
    const out = `t${k++}`;
    nodes.push({ opType, input, output: [out], attribute });
    return out;
  };
  const int = (name: string, i: number): { name: string; type: number; i: number } => ({ name, type: AttributeType.INT, i });
  const ints = (name: string, v: number[]): { name: string; type: number; ints: number[] } => ({ name, type: AttributeType.INTS, ints: v });
  const dense = (x: string, name: string, din: number, dout: number): string =>
    op('Add', [op('MatMul', [x, rand(`${name}.w`, [din, dout])]), fill(`${name}.b`, [dout], 0)]);
  const ln = (x: string, name: string): string =>
    op('LayerNormalization', [x, fill(`${name}.g`, [H], 1), fill(`${name}.b`, [H], 0)], [int('axis', -1), { name: 'epsilon', type: AttributeType.FLOAT, f: 1e-12 }]);

  inits.push(int64Tensor('c0', [], [0]), int64Tensor('c1', [], [1]), int64Tensor('heads_shape', [4], [0, 0, NH, dh]), int64Tensor('hidden_shape', [3], [0, 0, H]));
  inits.push(int64Tensor('ax12', [2], [1, 2]));
  const seqLen = op('Gather', [op('Shape', ['input_ids']), 'c1'], [int('axis', 0)]);
  const pos = op('Range', ['c0', seqLen, 'c1']);
  let x = op('Add', [op('Gather', [rand('word_emb', [V, H]), 'input_ids'], [int('axis', 0)]), op('Gather', [rand('pos_emb', [P, H]), pos], [int('axis', 0)])]);
  if (useTT) x = op('Add', [x, op('Gather', [rand('type_emb', [2, H]), 'token_type_ids'], [int('axis', 0)])]);
  x = ln(x, 'emb_ln');
  const maskF = op('Cast', ['attention_mask'], [int('to', DataType.FLOAT)]);
  const maskAdd = op('Unsqueeze', [op('Mul', [op('Sub', [scalar('one', 1), maskF]), scalar('neg', -10000)]), 'ax12']);
  const scale = scalar('scale', 1 / Math.sqrt(dh));
  for (let l = 0; l < L; l++) {
    const p = `l${l}`;
    const heads = (t: string, perm: number[]): string => op('Transpose', [op('Reshape', [t, 'heads_shape'])], [ints('perm', perm)]);
    const q = heads(dense(x, `${p}.q`, H, H), [0, 2, 1, 3]);
    const kk = heads(dense(x, `${p}.k`, H, H), [0, 2, 3, 1]);
    const v = heads(dense(x, `${p}.v`, H, H), [0, 2, 1, 3]);
    const scores = op('Add', [op('Mul', [op('MatMul', [q, kk]), scale]), maskAdd]);
    const probs = op('Softmax', [scores], [int('axis', -1)]);
    const ctx = op('Reshape', [op('Transpose', [op('MatMul', [probs, v])], [ints('perm', [0, 2, 1, 3])]), 'hidden_shape']);
    x = ln(op('Add', [x, dense(ctx, `${p}.o`, H, H)]), `${p}.ln1`);
    const f1 = dense(x, `${p}.ff1`, H, FF);
    // exact GELU: 0.5 x (1 + erf(x / sqrt 2))
    const gelu = op('Mul', [op('Mul', [f1, scalar(`${p}.half`, 0.5)]), op('Add', [op('Erf', [op('Mul', [f1, scalar(`${p}.isq2`, Math.SQRT1_2)])]), scalar(`${p}.one`, 1)])]);
    x = ln(op('Add', [x, dense(gelu, `${p}.ff2`, FF, H)]), `${p}.ln2`);
  }
  const cls = op('Gather', [x, 'c0'], [int('axis', 1)]);
  const pooled = op('Tanh', [dense(cls, 'pooler', H, H)]);
  const logits = dense(pooled, 'head', H, C);
  nodes.push({ opType: 'Identity', input: [logits], output: ['logits'] });
  const dyn = ['batch', 'seq'];
  const metadata: Record<string, string> = {};
  if (opts.labels) metadata[META.labels] = JSON.stringify(opts.labels);
  if (opts.oosThreshold !== undefined) metadata[META.threshold] = String(opts.oosThreshold);
  return encodeModel({
    graphName: 'bert_classifier',
    nodes,
    initializers: inits,
    inputs: [
      { name: 'input_ids', elemType: DataType.INT64, shape: dyn },
      { name: 'attention_mask', elemType: DataType.INT64, shape: dyn },
      ...(useTT ? [{ name: 'token_type_ids', elemType: DataType.INT64, shape: dyn }] : []),
    ],
    outputs: [{ name: 'logits', elemType: DataType.FLOAT, shape: ['batch', C] }],
    metadata,
  });
}

/** A WordPiece vocab (one token per line) of the special tokens, the given words and single-letter pieces. */
export function buildVocab(words: Iterable<string>, size?: number): string[] {
  const out = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]'];
  const seen = new Set(out);
  const push = (t: string): void => {
    if (!seen.has(t) && (size === undefined || out.length < size)) {
      seen.add(t);
      out.push(t);
    }
  };
  for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789') push(c);
  for (const c of 'abcdefghijklmnopqrstuvwxyz0123456789') push(`##${c}`);
  for (const c of '.,!?\'"-:;()') push(c);
  for (const w of words) push(w);
  // pad to the requested size with filler pieces so the embedding table has the real shape
  for (let i = 0; size !== undefined && out.length < size; i++) push(`[unused${i}]`);
  return out;
}
