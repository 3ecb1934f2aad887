/**
 * One onnxruntime-node session inside an inference worker, run either through the public API or
 * directly through the package's native session object.
 *
 * The public `InferenceSession.run()` defers every call with a setImmediate and re-validates and
 * re-wraps feeds and outputs; for a model that runs in about 0.1 ms that is a fifth of the cost
 * (measured in docs/intent.md). The native session behind it (`onnxruntime-node/dist/binding.js`,
 * typed there as "a simple synchronized inference session object wrap") runs synchronously. It is
 * not the package's documented API, so the direct path is only taken when the binding has the
 * expected shape and gives, on probe texts, bit-identical outputs to the public path; otherwise
 * the worker falls back to the public API and says so (`direct: false`).
 */
type Ort = typeof import('onnxruntime-node');
type Tensor = import('onnxruntime-node').Tensor;
type SessionOptions = import('onnxruntime-node').InferenceSession.SessionOptions;

export type Feeds = Record<string, Tensor>;
export type Outputs = Record<string, { data: unknown }>;

export interface Runner {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** True when run() calls the native session synchronously (no promise, no setImmediate). */
  readonly direct: boolean;
  /** Outputs `fetches` of one call; a plain value on the direct path, a promise otherwise. */
  run(feeds: Feeds, fetches: readonly string[]): Outputs | Promise<Outputs>;
  release(): Promise<void>;
}

interface NativeSession {
  loadModel(buffer: ArrayBuffer, byteOffset: number, byteLength: number, options: SessionOptions): void;
  readonly inputMetadata: Array<{ name: string }>;
  readonly outputMetadata: Array<{ name: string }>;
  run(feeds: Feeds, fetches: Record<string, null>, options: object): Outputs;
  dispose(): void;
}

interface BindingModule {
  binding: { InferenceSession: new () => NativeSession };
  initOrt(): void;
}

function publicRunner(session: import('onnxruntime-node').InferenceSession): Runner {
  return {
    inputNames: session.inputNames,
    outputNames: session.outputNames,
    direct: false,
    run: (feeds, fetches) => session.run(feeds, [...fetches]),
    release: () => session.release(),
  };
}

async function nativeSession(bytes: Uint8Array, options: SessionOptions): Promise<NativeSession | null> {
  let mod: Partial<BindingModule> & { default?: Partial<BindingModule> };
  try {
    mod = (await import('onnxruntime-node/dist/binding.js')) as unknown as typeof mod;
  } catch {
    return null;
  }
  const b = mod.binding ?? mod.default?.binding;
  const initOrt = mod.initOrt ?? mod.default?.initOrt;
  if (typeof b?.InferenceSession !== 'function' || typeof initOrt !== 'function') return null;
  try {
    initOrt();
    const s = new b.InferenceSession();
    if (typeof s.run !== 'function' || typeof s.loadModel !== 'function') return null;
    s.loadModel(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength, options);
    return s;
  } catch {
    return null;
  }
}

function sameBits(a: unknown, b: unknown): boolean {
  if (!ArrayBuffer.isView(a) || !ArrayBuffer.isView(b) || a.byteLength !== b.byteLength) return false;
  const x = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const y = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
  return true;
}

/**
 * Opens the model. With `direct`, also tries the native session and keeps it when `probe(run)`
 * (feeds built by the caller, run through both paths with every output fetched) agrees bit for
 * bit; the public session is released then.
 */
export async function openRunner(ort: Ort, bytes: Uint8Array, options: SessionOptions, direct: boolean, probeFeeds: (inputNames: readonly string[]) => Feeds[]): Promise<Runner> {
  const session = await ort.InferenceSession.create(bytes, options);
  const pub = publicRunner(session);
  if (!direct) return pub;
  const native = await nativeSession(bytes, options);
  if (!native) return pub;
  const names = native.outputMetadata.map((m) => m.name);
  const fetches = Object.fromEntries(names.map((n) => [n, null])) as Record<string, null>;
  let agrees = names.length > 0 && names.join('\0') === session.outputNames.join('\0');
  try {
    for (const feeds of agrees ? probeFeeds(session.inputNames) : []) {
      const a = native.run(feeds, fetches, {});
      const b = await session.run(feeds, names);
      if (!names.every((n) => sameBits(a[n]?.data, b[n]?.data))) agrees = false;
    }
  } catch {
    agrees = false;
  }
  if (!agrees) {
    native.dispose();
    return pub;
  }
  await session.release();
  const inputNames = native.inputMetadata.map((m) => m.name);
  return {
    inputNames,
    outputNames: names,
    direct: true,
    run: (feeds, want) => {
      const f: Record<string, null> = {};
      for (const n of want) f[n] = null;
      return native.run(feeds, f, {});
    },
    release: async () => native.dispose(),
  };
}
