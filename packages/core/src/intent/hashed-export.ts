/**
 * Writes a trained hashed model as an ONNX graph. Inputs: `ids` int32 [batch, n] (hash buckets,
 * padded) and `tf` float [batch, n] (sublinear term frequency, 0 on padding). Output: `probs`
 * float [batch, classes]. The embedding tables are stored as fp16 (half the bytes; Cast after
 * the Gather touches only the rows a text uses).
 */
import type { FeaturizerSettings } from './featurizer.js';
import type { HashedModel } from './hashed-model.js';
import { HASHED_FORMAT, META } from './metadata.js';
import { AttributeType, DataType, encodeModel, floatTensor, int64Tensor, rawBytes, toFloat16, type NodeInit, type TensorInit } from './onnx-proto.js';

export interface ExportMeta {
  labels: string[];
  featurizer: FeaturizerSettings;
  threshold: number;
  oosLabel: string | null;
}

export function exportHashedModel(model: HashedModel, meta: ExportMeta): Uint8Array {
  const { buckets: H, dim: D, classes: C } = model;
  const inits: TensorInit[] = [
    floatTensor('idf', [H], model.idf),
    int64Tensor('axis1', [1], [1]),
    floatTensor('eps', [], new Float32Array([1e-12])),
  ];
  const nodes: NodeInit[] = [
    { opType: 'Gather', input: ['idf', 'ids'], output: ['idf_g'], attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }] },
    { opType: 'Mul', input: ['tf', 'idf_g'], output: ['v'] },
    { opType: 'Mul', input: ['v', 'v'], output: ['v2'] },
    { opType: 'ReduceSum', input: ['v2', 'axis1'], output: ['ss'], attribute: [{ name: 'keepdims', type: AttributeType.INT, i: 1 }] },
    { opType: 'Max', input: ['ss', 'eps'], output: ['ss_e'] },
    { opType: 'Sqrt', input: ['ss_e'], output: ['norm'] },
    { opType: 'Div', input: ['v', 'norm'], output: ['vn'] },
    // [B, n] -> [B, 1, n] so the bag is one batched MatMul with the gathered rows [B, n, D]
    { opType: 'Unsqueeze', input: ['vn', 'axis1'], output: ['vn3'] },
  ];
  const probs: string[] = [];
  model.members.forEach((m, i) => {
    const p = `m${i}_`;
    inits.push(
      { name: `${p}E`, dims: [H, D], dataType: DataType.FLOAT16, rawData: rawBytes(toFloat16(m.E)) },
      floatTensor(`${p}b1`, [D], m.b1),
      floatTensor(`${p}W2`, [D, C], m.W2),
      floatTensor(`${p}b2`, [C], m.b2),
    );
    nodes.push(
      { opType: 'Gather', input: [`${p}E`, 'ids'], output: [`${p}rows16`], attribute: [{ name: 'axis', type: AttributeType.INT, i: 0 }] },
      { opType: 'Cast', input: [`${p}rows16`], output: [`${p}rows`], attribute: [{ name: 'to', type: AttributeType.INT, i: DataType.FLOAT }] },
      { opType: 'MatMul', input: ['vn3', `${p}rows`], output: [`${p}bag3`] },
      { opType: 'Squeeze', input: [`${p}bag3`, 'axis1'], output: [`${p}bag`] },
      { opType: 'Add', input: [`${p}bag`, `${p}b1`], output: [`${p}a`] },
      { opType: 'Relu', input: [`${p}a`], output: [`${p}h`] },
      { opType: 'MatMul', input: [`${p}h`, `${p}W2`], output: [`${p}zw`] },
      { opType: 'Add', input: [`${p}zw`, `${p}b2`], output: [`${p}z`] },
      { opType: 'Softmax', input: [`${p}z`], output: [`${p}p`], attribute: [{ name: 'axis', type: AttributeType.INT, i: -1 }] },
    );
    probs.push(`${p}p`);
  });
  if (probs.length === 1) nodes.push({ opType: 'Identity', input: [probs[0]!], output: ['probs'] });
  else {
    inits.push(floatTensor('inv_members', [], new Float32Array([1 / probs.length])));
    nodes.push({ opType: 'Sum', input: probs, output: ['psum'] }, { opType: 'Mul', input: ['psum', 'inv_members'], output: ['probs'] });
  }
  return encodeModel({
    graphName: 'kefu_intent_hashed',
    docString: 'Kefu hashed word + character n-gram intent classifier',
    nodes,
    initializers: inits,
    inputs: [
      { name: 'ids', elemType: DataType.INT32, shape: ['batch', 'n'] },
      { name: 'tf', elemType: DataType.FLOAT, shape: ['batch', 'n'] },
    ],
    outputs: [{ name: 'probs', elemType: DataType.FLOAT, shape: ['batch', C] }],
    metadata: {
      [META.format]: HASHED_FORMAT,
      [META.labels]: JSON.stringify(meta.labels),
      [META.featurizer]: JSON.stringify(meta.featurizer),
      [META.threshold]: String(meta.threshold),
      ...(meta.oosLabel ? { [META.oosLabel]: meta.oosLabel } : {}),
    },
  });
}
