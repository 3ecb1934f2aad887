/**
 * The subset of onnx.proto (ONNX IR) that Kefu writes and reads, declared as a protobufjs JSON
 * descriptor: no network access means no schema download, and field numbers are all that matter
 * on the wire. Unknown fields (training info, sparse initializers...) are skipped when decoding.
 */
import protobuf from 'protobufjs';

/** TensorProto.DataType values Kefu uses. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, UINT16: 4, INT32: 6, INT64: 7, STRING: 8, BOOL: 9, FLOAT16: 10 } as const;

/** AttributeProto.AttributeType values. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7, STRINGS: 8 } as const;

const descriptor = {
  nested: {
    onnx: {
      nested: {
        StringStringEntryProto: { fields: { key: { type: 'string', id: 1 }, value: { type: 'string', id: 2 } } },
        OperatorSetIdProto: { fields: { domain: { type: 'string', id: 1 }, version: { type: 'int64', id: 2 } } },
        TensorProto: {
          fields: {
            dims: { rule: 'repeated', type: 'int64', id: 1 },
            dataType: { type: 'int32', id: 2 },
            floatData: { rule: 'repeated', type: 'float', id: 4, options: { packed: true } },
            int32Data: { rule: 'repeated', type: 'int32', id: 5, options: { packed: true } },
            int64Data: { rule: 'repeated', type: 'int64', id: 7, options: { packed: true } },
            name: { type: 'string', id: 8 },
            rawData: { type: 'bytes', id: 9 },
            docString: { type: 'string', id: 12 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: 'string', id: 1 },
            f: { type: 'float', id: 2 },
            i: { type: 'int64', id: 3 },
            s: { type: 'bytes', id: 4 },
            t: { type: 'TensorProto', id: 5 },
            floats: { rule: 'repeated', type: 'float', id: 7, options: { packed: true } },
            ints: { rule: 'repeated', type: 'int64', id: 8, options: { packed: true } },
            strings: { rule: 'repeated', type: 'bytes', id: 9 },
            docString: { type: 'string', id: 13 },
            type: { type: 'int32', id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: 'repeated', type: 'string', id: 1 },
            output: { rule: 'repeated', type: 'string', id: 2 },
            name: { type: 'string', id: 3 },
            opType: { type: 'string', id: 4 },
            attribute: { rule: 'repeated', type: 'AttributeProto', id: 5 },
            docString: { type: 'string', id: 6 },
            domain: { type: 'string', id: 7 },
          },
        },
        TensorShapeProto: {
          fields: { dim: { rule: 'repeated', type: 'Dimension', id: 1 } },
          nested: {
            Dimension: {
              oneofs: { value: { oneof: ['dimValue', 'dimParam'] } },
              fields: { dimValue: { type: 'int64', id: 1 }, dimParam: { type: 'string', id: 2 } },
            },
          },
        },
        TypeProto: {
          oneofs: { value: { oneof: ['tensorType'] } },
          fields: { tensorType: { type: 'Tensor', id: 1 } },
          nested: {
            Tensor: { fields: { elemType: { type: 'int32', id: 1 }, shape: { type: 'TensorShapeProto', id: 2 } } },
          },
        },
        ValueInfoProto: {
          fields: { name: { type: 'string', id: 1 }, type: { type: 'TypeProto', id: 2 }, docString: { type: 'string', id: 3 } },
        },
        GraphProto: {
          fields: {
            node: { rule: 'repeated', type: 'NodeProto', id: 1 },
            name: { type: 'string', id: 2 },
            initializer: { rule: 'repeated', type: 'TensorProto', id: 5 },
            docString: { type: 'string', id: 10 },
            input: { rule: 'repeated', type: 'ValueInfoProto', id: 11 },
            output: { rule: 'repeated', type: 'ValueInfoProto', id: 12 },
            valueInfo: { rule: 'repeated', type: 'ValueInfoProto', id: 13 },
          },
        },
        ModelProto: {
          fields: {
            irVersion: { type: 'int64', id: 1 },
            producerName: { type: 'string', id: 2 },
            producerVersion: { type: 'string', id: 3 },
            domain: { type: 'string', id: 4 },
            modelVersion: { type: 'int64', id: 5 },
            docString: { type: 'string', id: 6 },
            graph: { type: 'GraphProto', id: 7 },
            opsetImport: { rule: 'repeated', type: 'OperatorSetIdProto', id: 8 },
            metadataProps: { rule: 'repeated', type: 'StringStringEntryProto', id: 14 },
          },
        },
      },
    },
  },
};

const root = protobuf.Root.fromJSON(descriptor);
const ModelProto = root.lookupType('onnx.ModelProto');

export interface TensorInit {
  name: string;
  dims: number[];
  dataType: number;
  rawData: Uint8Array;
}
export interface AttributeInit {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  t?: TensorInit;
  floats?: number[];
  ints?: number[];
}
export interface NodeInit {
  opType: string;
  input: string[];
  output: string[];
  name?: string;
  attribute?: AttributeInit[];
  domain?: string;
}
export interface ValueInfoInit {
  name: string;
  elemType: number;
  /** A number is a fixed size; a string a symbolic (dynamic) dimension. */
  shape: Array<number | string>;
}
export interface ModelInit {
  graphName: string;
  nodes: NodeInit[];
  initializers: TensorInit[];
  inputs: ValueInfoInit[];
  outputs: ValueInfoInit[];
  metadata: Record<string, string>;
  /** @defaultValue 17 */
  opset?: number;
  docString?: string;
}

function valueInfo(v: ValueInfoInit): Record<string, unknown> {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.elemType,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

/** Serialises a model to ONNX bytes. Same input, same bytes (metadata keys are written sorted). */
export function encodeModel(m: ModelInit): Uint8Array {
  const msg = ModelProto.fromObject({
    irVersion: 8,
    producerName: 'kefu',
    producerVersion: '0.1.0',
    modelVersion: 1,
    docString: m.docString ?? '',
    opsetImport: [{ domain: '', version: m.opset ?? 17 }],
    metadataProps: Object.keys(m.metadata)
      .sort()
      .map((key) => ({ key, value: m.metadata[key] })),
    graph: {
      name: m.graphName,
      node: m.nodes.map((n, idx) => ({ ...n, name: n.name ?? `${n.opType}_${idx}`, domain: n.domain ?? '' })),
      initializer: m.initializers,
      input: m.inputs.map(valueInfo),
      output: m.outputs.map(valueInfo),
    },
  });
  return ModelProto.encode(msg).finish();
}

export interface DecodedModel {
  metadata: Record<string, string>;
  inputs: string[];
  outputs: string[];
  opset: number;
}

/** Reads the parts of an ONNX model Kefu needs without loading the runtime. Throws on bad bytes. */
export function decodeModelInfo(bytes: Uint8Array): DecodedModel {
  const msg = ModelProto.decode(bytes) as unknown as {
    graph?: { input?: Array<{ name?: string }>; output?: Array<{ name?: string }>; node?: unknown[] };
    metadataProps?: Array<{ key?: string; value?: string }>;
    opsetImport?: Array<{ version?: number | { toNumber(): number } }>;
  };
  if (!msg.graph || !msg.graph.node || msg.graph.node.length === 0) throw new Error('the file has no ONNX graph');
  const metadata: Record<string, string> = {};
  for (const p of msg.metadataProps ?? []) if (p.key) metadata[p.key] = p.value ?? '';
  const v = msg.opsetImport?.[0]?.version;
  return {
    metadata,
    inputs: (msg.graph.input ?? []).map((i) => i.name ?? ''),
    outputs: (msg.graph.output ?? []).map((o) => o.name ?? ''),
    opset: typeof v === 'number' ? v : v ? v.toNumber() : 0,
  };
}

/** The float32 values of one initializer (raw_data or float_data), or null when absent. */
export function readFloatInitializer(bytes: Uint8Array, name: string): Float32Array | null {
  const msg = ModelProto.decode(bytes) as unknown as {
    graph?: { initializer?: Array<{ name?: string; dataType?: number; rawData?: Uint8Array; floatData?: number[] }> };
  };
  const t = msg.graph?.initializer?.find((i) => i.name === name);
  if (!t || t.dataType !== DataType.FLOAT) return null;
  if (t.rawData && t.rawData.length > 0) {
    // copy: the decoded bytes may not be 4-byte aligned
    return new Float32Array(Uint8Array.from(t.rawData).buffer);
  }
  return Float32Array.from(t.floatData ?? []);
}

/** Little-endian bytes of a typed array (ONNX raw_data is always little-endian). */
export function rawBytes(a: Float32Array | Int32Array | Uint16Array | BigInt64Array | Uint8Array | Int8Array): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

export function floatTensor(name: string, dims: number[], data: Float32Array): TensorInit {
  return { name, dims, dataType: DataType.FLOAT, rawData: rawBytes(data) };
}

export function int64Tensor(name: string, dims: number[], data: number[]): TensorInit {
  return { name, dims, dataType: DataType.INT64, rawData: rawBytes(BigInt64Array.from(data.map((x) => BigInt(x)))) };
}

/** Converts float32 values to IEEE half precision (round to nearest even), for compact tables. */
export function toFloat16(src: Float32Array): Uint16Array {
  const out = new Uint16Array(src.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let k = 0; k < src.length; k++) {
    f[0] = src[k]!;
    const x = u[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exp = ((x >>> 23) & 0xff) - 127 + 15;
    let mant = x & 0x7fffff;
    if (exp >= 31) {
      out[k] = sign | 0x7c00;
      continue;
    }
    if (exp <= 0) {
      if (exp < -10) {
        out[k] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - exp;
      let half = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const mid = 1 << (shift - 1);
      if (rem > mid || (rem === mid && (half & 1))) half++;
      out[k] = sign | half;
      continue;
    }
    let half = (exp << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && (half & 1))) half++;
    out[k] = sign | half;
  }
  return out;
}

/** Half precision back to float32 (to mirror exactly what the runtime computes). */
export function fromFloat16(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 31) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}
