/**
 * The TextCNN (cnn-model.ts) as ONNX nodes. Input `tok` int32 [batch, T]: each token's
 * word-unigram bucket + 1, 0 for padding, and at least one 0 after every text (the layout of
 * cnn-model.ts). The widths share one Conv node: each width's kernel sits at the right end of a
 * kernel as wide as the widest, zero on the left, which computes the same windows (plus windows of
 * padding only, whose value every text already has) in one node instead of one per width:
 * per-node overhead is most of a single prediction's cost.
 */
import type { CnnModel } from './cnn-model.js';
import { AttributeType, DataType, floatTensor, rawBytes, toFloat16, type NodeInit, type TensorInit } from './onnx-proto.js';

const int = (name: string, i: number): { name: string; type: number; i: number } => ({ name, type: AttributeType.INT, i });
const ints = (name: string, v: number[]): { name: string; type: number; ints: number[] } => ({ name, type: AttributeType.INTS, ints: v });

/** Nodes from `tok` to `out` (class probabilities [batch, classes]). */
export function cnnNodes(m: CnnModel, out: string): NodeInit[] {
  const K = Math.max(...m.widths);
  return [
    { opType: 'Gather', input: ['crow', 'tok'], output: ['crow16'], attribute: [int('axis', 0)] },
    { opType: 'Cast', input: ['crow16'], output: ['crowi'], attribute: [int('to', DataType.INT32)] },
    { opType: 'Gather', input: ['cemb', 'crowi'], output: ['cx16'], attribute: [int('axis', 0)] },
    { opType: 'Cast', input: ['cx16'], output: ['cx'], attribute: [int('to', DataType.FLOAT)] },
    { opType: 'Transpose', input: ['cx'], output: ['cxt'], attribute: [ints('perm', [0, 2, 1])] },
    { opType: 'Conv', input: ['cxt', 'cW', 'cB'], output: ['cconv'], attribute: [ints('kernel_shape', [K]), ints('pads', [K - 1, K - 1])] },
    { opType: 'ReduceMax', input: ['cconv'], output: ['cpool'], attribute: [ints('axes', [2]), int('keepdims', 0)] },
    { opType: 'Relu', input: ['cpool'], output: ['ch'] },
    { opType: 'MatMul', input: ['ch', 'cOutW'], output: ['cz0'] },
    { opType: 'Add', input: ['cz0', 'cOutB'], output: ['cz'] },
    { opType: 'Softmax', input: ['cz'], output: [out], attribute: [int('axis', -1)] },
  ];
}

/** The CNN's initializers: bucket -> row (uint16; row 0 for padding and unknown words), fp16 vectors, fp32 layers. */
export function cnnInits(m: CnnModel): TensorInit[] {
  const D = m.dims, F = m.filters, K = Math.max(...m.widths);
  const rows = m.emb.length / D;
  if (rows > 65536) throw new RangeError('the CNN vocabulary must have at most 65,535 words');
  const crow = new Uint16Array(m.rowOf.length + 1);
  crow.set(m.rowOf, 1);
  const NF = F * m.widths.length;
  const W = new Float32Array(NF * D * K);
  m.widths.forEach((k, wi) => {
    const src = m.convW[wi]!;
    for (let f = 0; f < F; f++) {
      for (let j = 0; j < k; j++) {
        for (let d = 0; d < D; d++) W[((wi * F + f) * D + d) * K + (K - k + j)] = src[(j * D + d) * F + f]!;
      }
    }
  });
  const B = new Float32Array(NF);
  m.convB.forEach((b, wi) => B.set(b, wi * F));
  return [
    { name: 'crow', dims: [crow.length], dataType: DataType.UINT16, rawData: rawBytes(crow) },
    { name: 'cemb', dims: [rows, D], dataType: DataType.FLOAT16, rawData: rawBytes(toFloat16(m.emb)) },
    floatTensor('cW', [NF, D, K], W),
    floatTensor('cB', [NF], B),
    floatTensor('cOutW', [NF, m.classes], m.outW),
    floatTensor('cOutB', [m.classes], m.outB),
  ];
}

/** The `tok` input of a batch of texts' bucket lists: [batch, longest + 1], zero-padded. */
export function cnnFeed(buckets: Int32Array[]): { data: Int32Array; dims: [number, number] } {
  const T = Math.max(0, ...buckets.map((b) => b.length)) + 1;
  const data = new Int32Array(buckets.length * T);
  buckets.forEach((b, i) => {
    for (let j = 0; j < b.length; j++) data[i * T + j] = b[j]! + 1;
  });
  return { data, dims: [buckets.length, T] };
}
