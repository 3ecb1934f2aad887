/**
 * Writes a trained hashed model as an ONNX graph. Inputs: `ids` int32 [batch, n] (hash buckets,
 * padded) and `w` float [batch, n] (L2-normalised tf-idf weights, 0 on padding; the workers
 * compute them with the `idf` initializer, which no node uses). Output: `probs` float
 * [batch, classes].
 *
 * The ensemble members are laid side by side (one table [buckets, members x dim], a
 * block-diagonal output layer) so that the whole model is 12 nodes (24 with word vectors, 28 with
 * int8 tables too): per-node overhead is most of a single prediction's cost. Tables are fp16
 * (half the bytes; the Cast after the Gather touches only the rows a text uses) or int8 with a
 * scale per row.
 */
import type { FeaturizerSettings } from './featurizer.js';
import { VEC_EPS, extremesScale, featureDims, type HashedModel, type VectorBlock } from './hashed-model.js';
import { HASHED_CNN_FORMAT, HASHED_FORMAT, META } from './metadata.js';
import { cnnInits, cnnNodes } from './cnn-export.js';
import type { OosRule } from './oos-rule.js';
import { AttributeType, DataType, encodeModel, floatTensor, int64Tensor, rawBytes, toFloat16, type NodeInit, type TensorInit } from './onnx-proto.js';

export interface ExportMeta {
  labels: string[];
  featurizer: FeaturizerSettings;
  threshold: number;
  oosLabel: string | null;
  /** Written only when not the default `confidence`, so that older models keep their bytes. */
  oosRule?: OosRule;
}

/**
 * The word-vector block (see wordMean): bucket -> vector row -> the weighted sum with the same
 * weights as the bag, scaled to unit length, projected and added to the bag.
 */
function vectorNodes(narrow: boolean, extremes: boolean): NodeInit[] {
  const int = (name: string, i: number): { name: string; type: number; i: number } => ({ name, type: AttributeType.INT, i });
  return [
    // the bucket -> row table is uint16 when the rows fit (half the bytes); indices must be int32
    ...(narrow
      ? [
          { opType: 'Gather', input: ['vrow', 'ids'], output: ['vr16'], attribute: [int('axis', 0)] },
          { opType: 'Cast', input: ['vr16'], output: ['vr'], attribute: [int('to', DataType.INT32)] },
        ]
      : [{ opType: 'Gather', input: ['vrow', 'ids'], output: ['vr'], attribute: [int('axis', 0)] }]),
    { opType: 'Gather', input: ['V', 'vr'], output: ['vrows16'], attribute: [int('axis', 0)] },
    { opType: 'Cast', input: ['vrows16'], output: ['vrows'], attribute: [int('to', DataType.FLOAT)] },
    { opType: 'MatMul', input: ['w3', 'vrows'], output: ['g3'] },
    { opType: 'Squeeze', input: ['g3', 'axis1'], output: ['graw'] },
    { opType: 'ReduceSumSquare', input: ['graw'], output: ['gss'], attribute: [{ name: 'axes', type: AttributeType.INTS, ints: [1] }, int('keepdims', 1)] },
    { opType: 'Add', input: ['gss', 'veps'], output: ['gss2'] },
    { opType: 'Sqrt', input: ['gss2'], output: ['gnorm'] },
    { opType: 'Div', input: ['graw', 'gnorm'], output: ['g'] },
    ...(extremes
      ? [
          // padding and weightless features must not take part: their rows are zeroed
          { opType: 'Greater', input: ['w', 'zero'], output: ['wpos'] },
          { opType: 'Cast', input: ['wpos'], output: ['wmask'], attribute: [int('to', DataType.FLOAT)] },
          { opType: 'Unsqueeze', input: ['wmask', 'axis2'], output: ['wmask3'] },
          { opType: 'Mul', input: ['vrows', 'wmask3'], output: ['vm'] },
          { opType: 'ReduceMax', input: ['vm'], output: ['gmax0'], attribute: [{ name: 'axes', type: AttributeType.INTS, ints: [1] }, int('keepdims', 0)] },
          { opType: 'ReduceMin', input: ['vm'], output: ['gmin0'], attribute: [{ name: 'axes', type: AttributeType.INTS, ints: [1] }, int('keepdims', 0)] },
          { opType: 'Max', input: ['gmax0', 'zero'], output: ['gmax'] },
          { opType: 'Min', input: ['gmin0', 'zero'], output: ['gmin'] },
          { opType: 'Concat', input: ['gmax', 'gmin'], output: ['gext0'], attribute: [int('axis', 1)] },
          { opType: 'Mul', input: ['gext0', 'vscale'], output: ['gext'] },
          { opType: 'Concat', input: ['g', 'gext'], output: ['gall'], attribute: [int('axis', 1)] },
          { opType: 'MatMul', input: ['gall', 'P'], output: ['gp'] },
        ]
      : [{ opType: 'MatMul', input: ['g', 'P'], output: ['gp'] }]),
  ];
}

/**
 * The members' hidden layers side by side as one batched MatMul each ([B, M, 1, x] x [M, x, y]):
 * block-diagonal matrices, as the bag uses, would store M times the weights.
 */
function hiddenLayerNodes(vec: boolean): NodeInit[] {
  const int = (name: string, i: number): { name: string; type: number; i: number } => ({ name, type: AttributeType.INT, i });
  return [
    { opType: 'Reshape', input: ['bag', 'bag_shape'], output: ['bag4'] },
    { opType: 'MatMul', input: ['bag4', 'A'], output: ['ea'] },
    ...(vec
      ? [
          { opType: 'Add', input: ['gp', 'b1'], output: ['gpb'] },
          { opType: 'Reshape', input: ['gpb', 'hidden_shape'], output: ['gpb4'] },
          { opType: 'Add', input: ['ea', 'gpb4'], output: ['a'] },
        ]
      : [{ opType: 'Add', input: ['ea', 'b1'], output: ['a'] }]),
    { opType: 'Relu', input: ['a'], output: ['h'] },
    { opType: 'MatMul', input: ['h', 'W2'], output: ['zw4'] },
    { opType: 'Reshape', input: ['zw4', 'member_shape'], output: ['zw'] },
    { opType: 'Add', input: ['zw', 'b2'], output: ['zm'] },
  ];
}

/** The int8 codes of a table whose values are already code x row scale (see the trainer). */
function quantized(E: Float32Array, scale: Float32Array, width: number): Int8Array {
  const q = new Int8Array(E.length);
  for (let k = 0; k < E.length; k++) {
    const s = scale[Math.floor(k / width)]!;
    q[k] = s === 0 ? 0 : Math.round(E[k]! / s);
  }
  return q;
}

const int = (name: string, i: number): { name: string; type: number; i: number } => ({ name, type: AttributeType.INT, i });

/** The bag: [B, n] weights x the gathered table rows [B, n, M*D] -> `bag` [B, M*D]. */
function bagNodes(int8: boolean): NodeInit[] {
  return [
    // [B, n] -> [B, 1, n] so the bag is one batched MatMul with the gathered rows [B, n, M*D]
    { opType: 'Unsqueeze', input: ['w', 'axis1'], output: ['w3'] },
    // int8 tables: each row's scale is folded into its weight before the bag's MatMul
    ...(int8
      ? [
          { opType: 'Gather', input: ['Es', 'ids'], output: ['s16'], attribute: [int('axis', 0)] },
          { opType: 'Cast', input: ['s16'], output: ['s'], attribute: [int('to', DataType.FLOAT)] },
          { opType: 'Mul', input: ['w', 's'], output: ['ws'] },
          { opType: 'Unsqueeze', input: ['ws', 'axis1'], output: ['ws3'] },
        ]
      : []),
    { opType: 'Gather', input: ['E', 'ids'], output: ['rows16'], attribute: [int('axis', 0)] },
    { opType: 'Cast', input: ['rows16'], output: ['rows'], attribute: [int('to', DataType.FLOAT)] },
    { opType: 'MatMul', input: [int8 ? 'ws3' : 'w3', 'rows'], output: ['bag3'] },
    { opType: 'Squeeze', input: ['bag3', 'axis1'], output: ['bag'] },
  ];
}

const meanNode: NodeInit = { opType: 'ReduceMean', input: ['pm'], output: ['probs'], attribute: [{ name: 'axes', type: AttributeType.INTS, ints: [1] }, int('keepdims', 0)] };

/**
 * The members' combination: their probabilities averaged (Softmax per member, then the mean), or
 * with `averageLogits` their logits averaged and then one Softmax (the same node count).
 */
function combineNodes(model: HashedModel): NodeInit[] {
  if (!model.averageLogits) return [{ opType: 'Softmax', input: ['zm'], output: ['pm'], attribute: [int('axis', -1)] }, meanNode];
  return [
    { opType: 'ReduceMean', input: ['zm'], output: ['zmean'], attribute: [{ name: 'axes', type: AttributeType.INTS, ints: [1] }, int('keepdims', 0)] },
    { opType: 'Softmax', input: ['zmean'], output: ['probs'], attribute: [int('axis', -1)] },
  ];
}

/** The members' tables side by side: [buckets, M*D], fp16 or int8 (+ its row scales `Es`). */
function tableInits(model: HashedModel): TensorInit[] {
  const { buckets: H, dim: D } = model;
  const MD = model.members.length * D;
  const E = new Float32Array(H * MD);
  model.members.forEach((m, k) => {
    for (let h = 0; h < H; h++) E.set(m.E.subarray(h * D, h * D + D), h * MD + k * D);
  });
  return model.rowScale
    ? [
        { name: 'E', dims: [H, MD], dataType: DataType.INT8, rawData: rawBytes(quantized(E, model.rowScale, MD)) },
        { name: 'Es', dims: [H], dataType: DataType.FLOAT16, rawData: rawBytes(toFloat16(model.rowScale)) },
      ]
    : [{ name: 'E', dims: [H, MD], dataType: DataType.FLOAT16, rawData: rawBytes(toFloat16(E)) }];
}

/** The word vectors and their projection `P` [dims, M*width] (member k in columns k*width...). */
function vectorInits(model: HashedModel, vec: VectorBlock, width: number): TensorInit[] {
  const M = model.members.length;
  const rows = featureDims(vec);
  const P = new Float32Array(rows * M * width);
  model.members.forEach((m, k) => {
    if (!m.P) throw new TypeError('every member needs a word-vector projection when the model has word vectors');
    for (let r = 0; r < rows; r++) P.set(m.P.subarray(r * width, r * width + width), r * M * width + k * width);
  });
  return [
    isNarrow(vec)
      ? { name: 'vrow', dims: [model.buckets], dataType: DataType.UINT16, rawData: rawBytes(Uint16Array.from(vec.rowOf)) }
      : { name: 'vrow', dims: [model.buckets], dataType: DataType.INT32, rawData: rawBytes(vec.rowOf) },
    { name: 'V', dims: [vec.V.length / vec.dims, vec.dims], dataType: DataType.FLOAT16, rawData: rawBytes(toFloat16(vec.V)) },
    floatTensor('P', [rows, M * width], P),
    floatTensor('veps', [1], Float32Array.of(VEC_EPS)),
    ...(vec.extremes
      ? [floatTensor('zero', [], Float32Array.of(0)), int64Tensor('axis2', [1], [2]), floatTensor('vscale', [], Float32Array.of(extremesScale(vec.dims)))]
      : []),
  ];
}

const isNarrow = (vec: VectorBlock): boolean => vec.V.length / vec.dims <= 65536;

/**
 * With a CNN: the members' average becomes `hprobs`, the CNN's output `cprobs`, and `probs` their
 * weighted sum; the graph gains the input `tok` (cnn-export.ts).
 */
function withCnn(model: HashedModel, nodes: NodeInit[], initializers: TensorInit[]): { nodes: NodeInit[]; initializers: TensorInit[] } {
  const cnn = model.cnn;
  if (!cnn) return { nodes, initializers };
  const a = model.cnnWeight ?? 0.5;
  const renamed = nodes.map((n) => (n.output.includes('probs') ? { ...n, output: n.output.map((x) => (x === 'probs' ? 'hprobs' : x)) } : n));
  return {
    nodes: [
      ...renamed,
      ...cnnNodes(cnn, 'cprobs'),
      { opType: 'Mul', input: ['hprobs', 'hweight'], output: ['hpw'] },
      { opType: 'Mul', input: ['cprobs', 'cweight'], output: ['cpw'] },
      { opType: 'Add', input: ['hpw', 'cpw'], output: ['probs'] },
    ],
    initializers: [...initializers, ...cnnInits(cnn), floatTensor('hweight', [], Float32Array.of(1 - a)), floatTensor('cweight', [], Float32Array.of(a))],
  };
}

function encode(model: HashedModel, meta: ExportMeta, nodes0: NodeInit[], initializers0: TensorInit[]): Uint8Array {
  const { nodes, initializers } = withCnn(model, nodes0, initializers0);
  return encodeModel({
    graphName: 'kefu_intent_hashed',
    docString: 'Kefu hashed word + character n-gram intent classifier',
    nodes,
    initializers,
    inputs: [
      { name: 'ids', elemType: DataType.INT32, shape: ['batch', 'n'] },
      { name: 'w', elemType: DataType.FLOAT, shape: ['batch', 'n'] },
      ...(model.cnn ? [{ name: 'tok', elemType: DataType.INT32, shape: ['batch', 't'] }] : []),
    ],
    outputs: [
      { name: 'probs', elemType: DataType.FLOAT, shape: ['batch', model.classes] },
      // the members' own probabilities, which the members-margin rule reads (the workers fetch it)
      ...(model.cnn && meta.oosRule === 'members-margin' ? [{ name: 'hprobs', elemType: DataType.FLOAT, shape: ['batch', model.classes] }] : []),
    ],
    metadata: {
      [META.format]: model.cnn ? HASHED_CNN_FORMAT : HASHED_FORMAT,
      [META.labels]: JSON.stringify(meta.labels),
      [META.featurizer]: JSON.stringify(meta.featurizer),
      [META.threshold]: String(meta.threshold),
      ...(meta.oosLabel ? { [META.oosLabel]: meta.oosLabel } : {}),
      ...(meta.oosRule && meta.oosRule !== 'confidence' ? { [META.oosRule]: meta.oosRule } : {}),
    },
  });
}

export function exportHashedModel(model: HashedModel, meta: ExportMeta): Uint8Array {
  if (model.hidden !== undefined) return exportWithHidden(model, meta);
  const { buckets: H, dim: D, classes: C } = model;
  const M = model.members.length;
  const MD = M * D;
  const b1 = new Float32Array(MD);
  const W2 = new Float32Array(MD * M * C);
  const b2 = new Float32Array(M * C);
  model.members.forEach((m, k) => {
    b1.set(m.b1, k * D);
    for (let d = 0; d < D; d++) W2.set(m.W2.subarray(d * C, d * C + C), (k * D + d) * M * C + k * C);
    b2.set(m.b2, k * C);
  });
  const vec = model.vec;
  const nodes: NodeInit[] = [
    ...bagNodes(model.rowScale !== undefined),
    ...(vec ? vectorNodes(isNarrow(vec), vec.extremes === true) : []),
    ...(vec ? [{ opType: 'Add', input: ['bag', 'gp'], output: ['bagv'] }] : []),
    { opType: 'Add', input: [vec ? 'bagv' : 'bag', 'b1'], output: ['a'] },
    { opType: 'Relu', input: ['a'], output: ['h'] },
    { opType: 'MatMul', input: ['h', 'W2'], output: ['zw'] },
    { opType: 'Add', input: ['zw', 'b2'], output: ['z'] },
    { opType: 'Reshape', input: ['z', 'member_shape'], output: ['zm'] },
    ...combineNodes(model),
  ];
  return encode(model, meta, nodes, [
    floatTensor('idf', [H], model.idf),
    int64Tensor('axis1', [1], [1]),
    int64Tensor('member_shape', [3], [0, M, C]),
    ...tableInits(model),
    floatTensor('b1', [MD], b1),
    floatTensor('W2', [MD, M * C], W2),
    floatTensor('b2', [M * C], b2),
    ...(vec ? vectorInits(model, vec, D) : []),
  ]);
}

/** A model whose members have a hidden layer after the bag (see HashedModel.hidden). */
function exportWithHidden(model: HashedModel, meta: ExportMeta): Uint8Array {
  const { buckets: H, dim: D, classes: C } = model;
  const U = model.hidden!;
  const M = model.members.length;
  const A = new Float32Array(M * D * U);
  const b1 = new Float32Array(M * U);
  const W2 = new Float32Array(M * U * C);
  const b2 = new Float32Array(M * C);
  model.members.forEach((m, k) => {
    if (!m.A) throw new TypeError('every member needs a hidden layer when the model has one');
    A.set(m.A, k * D * U);
    b1.set(m.b1, k * U);
    W2.set(m.W2, k * U * C);
    b2.set(m.b2, k * C);
  });
  const vec = model.vec;
  const nodes: NodeInit[] = [...bagNodes(model.rowScale !== undefined), ...(vec ? vectorNodes(isNarrow(vec), vec.extremes === true) : []), ...hiddenLayerNodes(vec !== undefined), ...combineNodes(model)];
  return encode(model, meta, nodes, [
    floatTensor('idf', [H], model.idf),
    int64Tensor('axis1', [1], [1]),
    int64Tensor('member_shape', [3], [0, M, C]),
    int64Tensor('bag_shape', [4], [0, M, 1, D]),
    ...(vec ? [int64Tensor('hidden_shape', [4], [0, M, 1, U])] : []),
    ...tableInits(model),
    floatTensor('A', [M, D, U], A),
    // without word vectors b1 is added to [B, M, 1, U] directly; with them, to [B, M*U] first
    floatTensor('b1', vec ? [M * U] : [M, 1, U], b1),
    floatTensor('W2', [M, U, C], W2),
    floatTensor('b2', [M, C], b2),
    ...(vec ? vectorInits(model, vec, U) : []),
  ]);
}
