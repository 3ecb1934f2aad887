/**
 * An inference worker: owns one onnxruntime-node session (loaded lazily here, never on the main
 * thread), featurizes or tokenizes a batch of texts, runs the batch in one call and returns the
 * top-k classes of each text. After a batch it may keep polling its port for a while (the init's
 * `spinMicros`) so that the next request finds it awake.
 */
import { parentPort, receiveMessageOnPort } from 'node:worker_threads';
import { readFile } from 'node:fs/promises';
import { featurize, type Features } from './featurizer.js';
import { weights } from './hashed-model.js';
import { membersMargin } from './oos-rule.js';
import { tokenBuckets } from './cnn-model.js';
import { cnnFeed } from './cnn-export.js';
import { readFloatInitializer } from './onnx-proto.js';
import { WordPieceTokenizer } from './wordpiece.js';
import { openRunner, type Runner } from './ort-runner.js';
import type { FromWorker, InitMessage, ResultMessage, RunMessage, ToWorker } from './worker-protocol.js';

type Ort = typeof import('onnxruntime-node');

const port = parentPort!;
/** Answers go here (the init's `results` port), control messages on `port`. */
let results: import('node:worker_threads').MessagePort | null = null;
let ort: Ort;
let session: Runner;
let init: InitMessage;
let tokenizer: WordPieceTokenizer | undefined;
let idf: Float32Array | null = null;
let outputName = '';
let isProbs = false;
/** Also fetch `hprobs` (the members-margin rule). */
let withMembers = false;
/** The graph has a TextCNN (input `tok`). */
let needsTok = false;
/** The bert graph takes `token_type_ids`. */
let tokenTypes = false;

function send(m: FromWorker): void {
  port.postMessage(m);
}

function answer(m: ResultMessage, transfer: ArrayBuffer[] = []): void {
  // the pool always gives one (init)
  results!.postMessage(m, transfer);
}

// Texts are padded to the longest in their runtime call, and the padded rows are gathered, cast
// and multiplied like real ones: sorting a batch by feature count and running it in slices of
// similar length costs a few extra calls but removes most of that waste.
const SLICE = 32;

function hashedFeeds(feats: Features[], texts: string[]): Record<string, import('onnxruntime-node').Tensor> {
  const n = Math.max(1, ...feats.map((f) => f.ids.length));
  const ids = new Int32Array(feats.length * n);
  const w = new Float32Array(feats.length * n);
  feats.forEach((f, i) => {
    ids.set(f.ids, i * n);
    // the trainer's own tf-idf weighting, so the runtime sees exactly what training saw
    weights(f, idf!, w.subarray(i * n, i * n + f.ids.length));
  });
  const feeds: Record<string, import('onnxruntime-node').Tensor> = { ids: new ort.Tensor('int32', ids, [feats.length, n]), w: new ort.Tensor('float32', w, [feats.length, n]) };
  if (needsTok) {
    const tok = cnnFeed(texts.map((t) => tokenBuckets(t, init.featurizer!)));
    feeds.tok = new ort.Tensor('int32', tok.data, tok.dims);
  }
  return feeds;
}

interface Scores {
  /** Class scores of every text, row-major [texts, classes]. */
  data: Float32Array;
  /** With `withMembers`: the members' probabilities, same layout. */
  members: Float32Array | null;
}

async function runHashed(feats: Features[], texts: string[]): Promise<Scores> {
  const out = await session.run(hashedFeeds(feats, texts), withMembers ? [outputName, 'hprobs'] : [outputName]);
  return { data: out[outputName]!.data as Float32Array, members: withMembers ? (out.hprobs!.data as Float32Array) : null };
}

async function scores(texts: string[]): Promise<Scores> {
  if (init.kind !== 'hashed') {
    const out = await session.run(bertFeeds(texts), [outputName]);
    return { data: out[outputName]!.data as Float32Array, members: null };
  }
  const feats = texts.map((t) => featurize(t, init.featurizer!));
  if (texts.length <= SLICE) return runHashed(feats, texts);
  const order = feats.map((_, i) => i).sort((a, b) => feats[a]!.ids.length - feats[b]!.ids.length);
  let all: Float32Array | null = null;
  let allMembers: Float32Array | null = null;
  for (let s = 0; s < order.length; s += SLICE) {
    const part = order.slice(s, s + SLICE);
    const r = await runHashed(part.map((i) => feats[i]!), part.map((i) => texts[i]!));
    const C = r.data.length / part.length;
    all ??= new Float32Array(texts.length * C);
    if (r.members) allMembers ??= new Float32Array(texts.length * C);
    part.forEach((i, j) => {
      all!.set(r.data.subarray(j * C, j * C + C), i * C);
      if (r.members) allMembers!.set(r.members.subarray(j * C, j * C + C), i * C);
    });
  }
  return { data: all!, members: allMembers };
}

function bertFeeds(texts: string[]): Record<string, import('onnxruntime-node').Tensor> {
  const enc = texts.map((t) => tokenizer!.encode(t));
  const n = Math.max(...enc.map((e) => e.length));
  const ids = new BigInt64Array(texts.length * n).fill(BigInt(tokenizer!.pad));
  const mask = new BigInt64Array(texts.length * n);
  enc.forEach((e, i) => {
    for (let j = 0; j < e.length; j++) {
      ids[i * n + j] = BigInt(e[j]!);
      mask[i * n + j] = 1n;
    }
  });
  const dims = [texts.length, n];
  const feeds: Record<string, import('onnxruntime-node').Tensor> = {
    input_ids: new ort.Tensor('int64', ids, dims),
    attention_mask: new ort.Tensor('int64', mask, dims),
  };
  if (tokenTypes) {
    feeds.token_type_ids = new ort.Tensor('int64', new BigInt64Array(texts.length * n), dims);
  }
  return feeds;
}

async function run(texts: string[]): Promise<{ index: Int32Array; prob: Float32Array; oos: Float32Array; margin?: Float32Array; classes: number }> {
  const { data, members } = await scores(texts);
  const C = data.length / texts.length;
  const k = Math.min(init.topK, C);
  const index = new Int32Array(texts.length * k);
  const prob = new Float32Array(texts.length * k);
  const oos = new Float32Array(texts.length);
  const oosIndex = init.oosIndex < C ? init.oosIndex : -1;
  const margin = members ? Float32Array.from({ length: texts.length }, (_, i) => membersMargin(members, i * C, C, oosIndex)) : undefined;
  const row = new Float32Array(C);
  for (let i = 0; i < texts.length; i++) {
    row.set(data.subarray(i * C, i * C + C));
    if (!isProbs) {
      // logits from a bring-your-own model: softmax here
      let max = -Infinity;
      for (let c = 0; c < C; c++) if (row[c]! > max) max = row[c]!;
      let sum = 0;
      for (let c = 0; c < C; c++) sum += row[c] = Math.exp(row[c]! - max);
      for (let c = 0; c < C; c++) row[c] = row[c]! / sum;
    }
    if (oosIndex >= 0) oos[i] = row[oosIndex]!;
    for (let j = 0; j < k; j++) {
      let best = -1;
      for (let c = 0; c < C; c++) if (row[c]! >= 0 && (best < 0 || row[c]! > row[best]!)) best = c;
      index[i * k + j] = best;
      prob[i * k + j] = row[best]!;
      row[best] = -1;
    }
  }
  return { index, prob, oos, classes: C, ...(margin ? { margin } : {}) };
}

async function start(m: InitMessage): Promise<void> {
  init = m;
  let bytes: Uint8Array;
  try {
    bytes = await readFile(m.modelPath);
  } catch (err) {
    send({ type: 'init-error', code: 'KEFU_ERR_INTENT_MODEL_NOT_FOUND', message: `model ${m.modelPath} cannot be read: ${String(err)}` });
    return;
  }
  try {
    if (m.kind === 'bert') tokenizer = WordPieceTokenizer.fromFile(m.vocabPath!, { lowercase: m.lowercase, maxLength: m.maxLength });
  } catch (err) {
    const code = (err as { code?: string }).code ?? 'KEFU_ERR_INTENT_MODEL_NOT_FOUND';
    send({ type: 'init-error', code, message: (err as Error).message });
    return;
  }
  if (m.kind === 'hashed') {
    try {
      idf = readFloatInitializer(bytes, 'idf');
    } catch {
      idf = null;
    }
    if (!idf || idf.length !== 2 ** m.featurizer!.hashBits) {
      send({ type: 'init-error', code: 'KEFU_ERR_INTENT_MODEL_CORRUPT', message: `${m.modelPath} has no idf table of 2^${m.featurizer!.hashBits} floats` });
      return;
    }
  }
  try {
    ort = await import('onnxruntime-node');
    const options = { intraOpNumThreads: m.intraOpThreads, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', logSeverityLevel: 3 } as const;
    session = await openRunner(ort, bytes, options, m.direct, (inputs) => {
      setInputs(inputs);
      return PROBES.map((t) => (m.kind === 'hashed' ? hashedFeeds([featurize(t, m.featurizer!)], [t]) : bertFeeds([t])));
    });
  } catch (err) {
    send({ type: 'init-error', code: 'KEFU_ERR_INTENT_MODEL_CORRUPT', message: `the runtime cannot load ${m.modelPath}: ${(err as Error).message}` });
    return;
  }
  outputName = session.outputNames.includes('probs') ? 'probs' : session.outputNames.includes('logits') ? 'logits' : session.outputNames[0]!;
  isProbs = outputName === 'probs';
  setInputs(session.inputNames);
  if (m.membersMargin && !session.outputNames.includes('hprobs')) {
    send({ type: 'init-error', code: 'KEFU_ERR_INTENT_MODEL_METADATA', message: `the "members-margin" rule needs the output "hprobs" (the hashed members' probabilities), which ${m.modelPath} lacks` });
    return;
  }
  withMembers = m.membersMargin === true;
  try {
    const probe = await run(['hello']);
    if (probe.classes !== m.classes) {
      send({ type: 'init-error', code: 'KEFU_ERR_INTENT_MODEL_METADATA', message: `the model has ${probe.classes} outputs but ${m.classes} labels` });
      return;
    }
  } catch (err) {
    send({ type: 'init-error', code: 'KEFU_ERR_INTENT_MODEL_CORRUPT', message: `the model does not run: ${(err as Error).message}` });
    return;
  }
  results = m.results ?? null;
  send({ type: 'ready', direct: session.direct });
}

// the direct path's check runs the model on these through both paths: a short and a longer text,
// so that a feed of one and of several features are both compared
const PROBES = ['hello', 'where is my order? it was due on monday, 3 days ago'];

function setInputs(inputs: readonly string[]): void {
  needsTok = init.kind === 'hashed' && inputs.includes('tok');
  tokenTypes = inputs.includes('token_type_ids');
}

async function runBatch(m: RunMessage): Promise<void> {
  let r: Awaited<ReturnType<typeof run>>;
  try {
    r = await run(m.texts);
  } catch (err) {
    answer({ type: 'run-error', id: m.id, message: (err as Error).message });
    return;
  }
  answer({ type: 'result', id: m.id, index: r.index, prob: r.prob, oos: r.oos, ...(r.margin ? { margin: r.margin } : {}) }, [
    r.index.buffer as ArrayBuffer,
    r.prob.buffer as ArrayBuffer,
    r.oos.buffer as ArrayBuffer,
    ...(r.margin ? [r.margin.buffer as ArrayBuffer] : []),
  ]);
}

/**
 * Polls the port for up to `micros` without yielding to the event loop. A worker that sleeps
 * costs the next request a thread wake-up (tens of µs of latency on a VM, and the sender's CPU for
 * the wake-up call); a worker that polls sees it at once, for the polling's CPU.
 */
function poll(micros: number): ToWorker | undefined {
  const end = performance.now() + micros / 1000;
  do {
    const got = receiveMessageOnPort(port);
    if (got) return got.message as ToWorker;
  } while (performance.now() < end);
  return undefined;
}

async function serve(first: ToWorker): Promise<void> {
  let m: ToWorker | undefined = first;
  while (m) {
    if (m.type === 'init') return void (await start(m));
    if (m.type === 'crash') process.exit(70);
    if (m.type === 'stall') Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, m.ms);
    // on the direct path run() never waits for the event loop, so a batch and the polling after
    // it are one synchronous stretch (only microtasks in between)
    else await runBatch(m);
    // only after a lone text: a batch of several means load, when the pool's main thread needs the
    // cores (a worker polling beside two busy threads on two cores cost 20% of the throughput)
    m = init?.spinMicros && m.type === 'run' && m.texts.length === 1 ? poll(init.spinMicros) : undefined;
  }
}

port.on('message', (m: ToWorker) => void serve(m));
