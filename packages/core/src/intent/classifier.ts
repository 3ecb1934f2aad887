/**
 * IntentClassifier: classify(text) -> intent, confidence, top-k, out-of-scope flag. The model's
 * metadata is read on the main thread with protobufjs; onnxruntime-node is only ever loaded
 * inside the worker threads, so importing @kefu/core stays light and a slow or crashed runtime
 * call never blocks the event loop that serves WebSockets.
 */
import { readFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { EventEmitter } from 'eventemitter3';
import { KefuError } from '@kefu/protocol';
import { decodeModelInfo } from './onnx-proto.js';
import { META, parseHashedMeta, parseLabels, parseOosRule, parseThreshold } from './metadata.js';
import { WorkerPool } from './worker-pool.js';
import type { FeaturizerSettings } from './featurizer.js';
import type { InitMessage } from './worker-protocol.js';
import { isFlagged, oosScore, OOS_RULE_ERROR, OOS_RULES, type OosRule } from './oos-rule.js';

export interface IntentClassifierOptions {
  /** Path of the ONNX model. @defaultValue the model of the `@kefu/intent-model` package */
  model?: string;
  /**
   * `hashed`: a model written by Kefu's trainer; `bert`: a BERT-family model (inputs
   * input_ids, attention_mask and optionally token_type_ids; output logits) with `vocab`.
   * @defaultValue 'auto' (bert when the model has an `input_ids` input)
   */
  kind?: 'auto' | 'hashed' | 'bert';
  /** WordPiece vocab file (one token per line), for `bert` models only. */
  vocab?: string;
  /** Class labels, in output order. @defaultValue the model's `kefu.labels` metadata */
  labels?: string[];
  /** Confidence below which a text is out of scope. @defaultValue the model's `kefu.oos_threshold`, else 0 */
  oosThreshold?: number;
  /** A label that itself means out of scope. @defaultValue the model's `kefu.oos_label`, else none */
  oosLabel?: string;
  /**
   * What `oosThreshold` is compared with: `confidence` (the top label's probability), `margin`
   * (the top label's probability minus the out-of-scope label's; equals `confidence` without an
   * out-of-scope label) or `members-margin` (the same margin taken from the hashed members' own
   * probabilities, the model's output `hprobs`: models trained with a TextCNN and that rule; the
   * intent is still the whole model's top label). @defaultValue the model's `kefu.oos_rule`, else 'confidence'
   */
  oosRule?: OosRule;
  /** How many ranked intents each result lists. @defaultValue 5 */
  topK?: number;
  /** Worker threads, each with its own runtime session. @defaultValue min(2, availableParallelism()) */
  workers?: number;
  /** Runtime threads inside each worker (intra-op). @defaultValue 1 */
  intraOpThreads?: number;
  /** Most texts one worker runs in one batch. @defaultValue 64 */
  maxBatch?: number;
  /** Most texts waiting for a worker; more are rejected with KEFU_ERR_INTENT_QUEUE_FULL. @defaultValue 10000 */
  maxQueue?: number;
  /** A batch taking longer fails with KEFU_ERR_TIMEOUT and its worker is replaced. @defaultValue 10000 */
  timeoutMs?: number;
  /** Longer texts are truncated to this many UTF-16 code units. @defaultValue 1000 */
  maxChars?: number;
  /** Longest token sequence for `bert` models ([CLS] and [SEP] included). @defaultValue 128 */
  maxLength?: number;
  /** Lower-case and strip accents before WordPiece (uncased BERT). @defaultValue true */
  lowercase?: boolean;
  /**
   * After finishing a batch of one text, each worker keeps polling for the next request for this
   * many microseconds before it goes to sleep, so that a request arriving within the window skips
   * the thread wake-up (on the 2-vCPU VM measured in docs/intent.md: tens of µs of the single
   * prediction's round trip). The cost is CPU: a worker that gets no request in time burns the
   * whole window, so at low rates each prediction costs up to this much extra CPU time on the
   * worker's core. Batches of several texts (load) are never followed by polling, which would take
   * a core from the main thread. 0 disables polling.
   * @defaultValue 200
   */
  spinMicros?: number;
  /**
   * After sending a lone request (a batch of one: the pool was idle) to a worker, the main thread
   * keeps its event loop turning (setImmediate, each turn still polling I/O and running timers)
   * for up to this many microseconds, or until the answer comes, instead of sleeping in epoll; an
   * answer that finds the thread awake skips a thread wake-up. Nothing waits behind it: the event
   * loop is never blocked. The cost is main-thread CPU for as long as the prediction takes, and on
   * a busy machine the turning thread competes with the worker for a core, which can make the
   * prediction slower, not faster (both measured in docs/intent.md): hence off by default. Batches
   * of more than one (load) never start it. 0 disables it.
   * @defaultValue 0
   */
  hotWaitMicros?: number;
  /**
   * Run the model through onnxruntime-node's native session synchronously inside the workers,
   * skipping the public `run()`'s setImmediate and re-wrapping. That session is the package's
   * internal binding, so it is used only when it exists and gives bit-identical outputs to the
   * public API on probe texts at start; otherwise the workers use the public API (`direct` says
   * which). false: always the public API.
   * @defaultValue true
   */
  directRun?: boolean;
}

export interface RankedIntent {
  intent: string;
  confidence: number;
}

export interface IntentResult {
  /** The most likely label. */
  intent: string;
  /** Its probability. */
  confidence: number;
  /** The `topK` most likely labels, best first. */
  topK: RankedIntent[];
  /**
   * True when the top label is the out-of-scope label or, under the `confidence` rule, its
   * confidence is below the threshold (under `margin`: its lead over the out-of-scope label;
   * under `members-margin`: that lead in the hashed members' own probabilities).
   */
  outOfScope: boolean;
  /** True when the text was longer than `maxChars` and only its start was classified. */
  truncated: boolean;
}

export interface IntentClassifierEvents {
  /** An inference worker crashed or timed out; its in-flight requests failed with `error`. */
  'worker-failed': (error: KefuError) => void;
  /** A replacement worker is ready. */
  'worker-replaced': () => void;
}

const defaults = {
  kind: 'auto' as 'auto' | 'hashed' | 'bert',
  topK: 5,
  workers: Math.min(2, availableParallelism()),
  intraOpThreads: 1,
  maxBatch: 64,
  maxQueue: 10_000,
  timeoutMs: 10_000,
  maxChars: 1000,
  maxLength: 128,
  lowercase: true,
  spinMicros: 200,
  hotWaitMicros: 0,
  directRun: true,
};

// C0 controls other than tab/newline/carriage return, and lone surrogates: not text
const NOT_TEXT = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function intOpt(name: string, v: number, min: number, max: number): void {
  if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer between ${min} and ${max}`);
}

async function defaultModelPath(): Promise<string> {
  const name = '@kefu/intent-model';
  try {
    const mod = (await import(name)) as { modelPath: string };
    return mod.modelPath;
  } catch (err) {
    throw new KefuError('KEFU_ERR_INTENT_MODEL_NOT_FOUND', 'no model given and @kefu/intent-model is not installed', { cause: err });
  }
}

export class IntentClassifier extends EventEmitter<IntentClassifierEvents> {
  private readonly o: typeof defaults & IntentClassifierOptions;
  private pool: WorkerPool | null = null;
  private state: 'new' | 'opening' | 'open' | 'closed' = 'new';
  private _labels: string[] = [];
  private _threshold = 0;
  private _oosRule: OosRule = 'confidence';
  private oosIndex = -1;
  private _kind: 'hashed' | 'bert' = 'hashed';
  private _modelPath = '';

  constructor(options: IntentClassifierOptions = {}) {
    super();
    this.o = { ...defaults, ...options };
    const o = this.o;
    if (!['auto', 'hashed', 'bert'].includes(o.kind)) throw new TypeError('kind must be "auto", "hashed" or "bert"');
    if (o.kind === 'hashed' && o.vocab !== undefined) throw new TypeError('vocab applies only to bert models, not to kind "hashed"');
    if (o.kind === 'bert' && o.vocab === undefined) throw new TypeError('kind "bert" needs a vocab file');
    intOpt('topK', o.topK, 1, 1000);
    intOpt('workers', o.workers, 1, 64);
    intOpt('intraOpThreads', o.intraOpThreads, 1, 64);
    intOpt('maxBatch', o.maxBatch, 1, 4096);
    intOpt('maxQueue', o.maxQueue, 1, 10_000_000);
    intOpt('timeoutMs', o.timeoutMs, 1, 3_600_000);
    intOpt('maxChars', o.maxChars, 1, 1_000_000);
    intOpt('maxLength', o.maxLength, 3, 8192);
    intOpt('spinMicros', o.spinMicros, 0, 100_000);
    intOpt('hotWaitMicros', o.hotWaitMicros, 0, 100_000);
    if (typeof o.directRun !== 'boolean') throw new TypeError('directRun must be a boolean');
    if (o.oosThreshold !== undefined && !(o.oosThreshold >= 0 && o.oosThreshold <= 1)) {
      throw new RangeError('oosThreshold must be a number between 0 and 1');
    }
    if (o.oosRule !== undefined && !OOS_RULES.includes(o.oosRule)) throw new TypeError(OOS_RULE_ERROR);
    if (o.labels !== undefined && (!Array.isArray(o.labels) || o.labels.length < 2 || !o.labels.every((l) => typeof l === 'string'))) {
      throw new TypeError('labels must be an array of at least 2 strings');
    }
  }

  /** Labels in the model's output order (after open()). */
  get labels(): readonly string[] {
    return this._labels;
  }
  /** What the threshold is compared with (after open()). */
  get oosRule(): OosRule {
    return this._oosRule;
  }

  /** The out-of-scope confidence threshold in use (after open()). */
  get threshold(): number {
    return this._threshold;
  }
  /** The model kind in use (after open()). */
  get kind(): 'hashed' | 'bert' {
    return this._kind;
  }
  /** The model file in use (after open()). */
  get modelPath(): string {
    return this._modelPath;
  }
  /**
   * True when the workers run the model through the runtime's native session directly (see the
   * `directRun` option); false before open() and when they use the public API.
   */
  get direct(): boolean {
    return this.pool?.direct ?? false;
  }
  /** Texts waiting for a worker. */
  get pending(): number {
    return this.pool?.pending ?? 0;
  }

  /** Reads and checks the model, starts the workers. Rejects with a KEFU_ERR_INTENT_MODEL_* code. */
  async open(): Promise<void> {
    if (this.state !== 'new') throw new KefuError(this.state === 'closed' ? 'KEFU_ERR_CLOSED' : 'KEFU_ERR_INVALID_ARGUMENT', 'open() may be called once');
    this.state = 'opening';
    try {
      await this.load();
    } catch (err) {
      this.state = 'closed';
      throw err;
    }
    if ((this.state as string) === 'closed') {
      await this.pool?.close();
      throw new KefuError('KEFU_ERR_CLOSED', 'closed while opening');
    }
    this.state = 'open';
  }

  private async load(): Promise<void> {
    const o = this.o;
    const file = o.model ?? (await defaultModelPath());
    this._modelPath = file;
    let bytes: Uint8Array;
    try {
      bytes = await readFile(file);
    } catch (err) {
      throw new KefuError('KEFU_ERR_INTENT_MODEL_NOT_FOUND', `model ${file} cannot be read`, { cause: err, details: { file } });
    }
    let info;
    try {
      info = decodeModelInfo(bytes);
    } catch (err) {
      throw new KefuError('KEFU_ERR_INTENT_MODEL_CORRUPT', `${file} is not an ONNX model`, { cause: err, details: { file } });
    }
    const kind = o.kind === 'auto' ? (info.inputs.includes('input_ids') ? 'bert' : 'hashed') : o.kind;
    if (kind === 'bert' && o.vocab === undefined) throw new TypeError('a bert model needs a vocab file');
    this._kind = kind;
    let featurizer: FeaturizerSettings | undefined;
    let oosLabel: string | undefined = o.oosLabel;
    if (kind === 'hashed') {
      const meta = parseHashedMeta(file, info.metadata);
      featurizer = meta.featurizer;
      this._labels = o.labels ?? meta.labels;
      this._threshold = o.oosThreshold ?? meta.threshold;
      this._oosRule = o.oosRule ?? meta.oosRule;
      oosLabel ??= meta.oosLabel ?? undefined;
    } else {
      this._labels = o.labels ?? parseLabels(file, info.metadata[META.labels]);
      this._threshold = o.oosThreshold ?? parseThreshold(file, info.metadata[META.threshold]);
      this._oosRule = o.oosRule ?? parseOosRule(file, info.metadata[META.oosRule]);
      oosLabel ??= info.metadata[META.oosLabel] || undefined;
    }
    this.oosIndex = oosLabel === undefined ? -1 : this._labels.indexOf(oosLabel);
    const init: InitMessage = {
      type: 'init',
      modelPath: file,
      kind,
      lowercase: o.lowercase,
      maxLength: o.maxLength,
      intraOpThreads: o.intraOpThreads,
      topK: o.topK,
      classes: this._labels.length,
      oosIndex: this.oosIndex,
      direct: o.directRun,
      spinMicros: o.spinMicros,
      ...(this._oosRule === 'members-margin' ? { membersMargin: true } : {}),
      ...(featurizer ? { featurizer } : {}),
      ...(o.vocab !== undefined ? { vocabPath: o.vocab } : {}),
    };
    const pool = new WorkerPool({ workers: o.workers, maxBatch: o.maxBatch, maxQueue: o.maxQueue, timeoutMs: o.timeoutMs, hotWaitMicros: o.hotWaitMicros, init });
    pool.on('worker-failed', (err) => this.emit('worker-failed', err));
    pool.on('worker-replaced', () => this.emit('worker-replaced'));
    await pool.start();
    this.pool = pool;
  }

  /** Validates and truncates a text; throws KEFU_ERR_INTENT_INVALID_TEXT. */
  private prepare(text: unknown): { text: string; truncated: boolean } {
    if (typeof text !== 'string') {
      throw new KefuError('KEFU_ERR_INTENT_INVALID_TEXT', `text must be a string, got ${text === null ? 'null' : typeof text}`);
    }
    let t = text;
    let truncated = false;
    if (t.length > this.o.maxChars) {
      t = t.slice(0, this.o.maxChars);
      // never leave half a surrogate pair at the cut
      if (/[\ud800-\udbff]$/.test(t)) t = t.slice(0, -1);
      truncated = true;
    }
    if (t.trim() === '') throw new KefuError('KEFU_ERR_INTENT_INVALID_TEXT', 'text is empty');
    if (NOT_TEXT.test(t)) throw new KefuError('KEFU_ERR_INTENT_INVALID_TEXT', 'text contains control characters or invalid UTF-16 (binary data?)');
    return { text: t, truncated };
  }

  /** Classifies one text. */
  classify(text: string): Promise<IntentResult> {
    if (this.state !== 'open' || !this.pool) {
      return Promise.reject(new KefuError(this.state === 'closed' ? 'KEFU_ERR_CLOSED' : 'KEFU_ERR_NOT_OPEN', 'the intent classifier is not open'));
    }
    let p: { text: string; truncated: boolean };
    try {
      p = this.prepare(text);
    } catch (err) {
      return Promise.reject(err);
    }
    const pool = this.pool;
    return new Promise<IntentResult>((resolve, reject) => {
      pool.submit({
        text: p.text,
        reject,
        resolve: (r) => {
          const topK: RankedIntent[] = [];
          for (let j = 0; j < r.k; j++) {
            topK.push({ intent: this._labels[r.index[r.offset + j]!] ?? '', confidence: r.prob[r.offset + j]! });
          }
          const best = topK[0]!;
          const top = r.index[r.offset]!;
          const i = r.offset / r.k;
          const score = this._oosRule === 'members-margin' ? r.margin![i]! : oosScore(this._oosRule, best.confidence, r.oos[i]!);
          const outOfScope = isFlagged(top === this.oosIndex, score, this._threshold);
          resolve({ intent: best.intent, confidence: best.confidence, topK, outOfScope, truncated: p.truncated });
        },
      });
    });
  }

  /** Classifies many texts (they share batches with every other caller). */
  classifyMany(texts: string[]): Promise<IntentResult[]> {
    return Promise.all(texts.map((t) => this.classify(t)));
  }

  /** Test hook: makes one worker exit abruptly, as a native crash would. */
  crashWorkerForTesting(slot = 0): void {
    this.pool?.crash(slot);
  }

  /** Test hook: blocks one worker for `ms`, as a stuck runtime call would. */
  stallWorkerForTesting(slot: number, ms: number): void {
    this.pool?.stall(slot, ms);
  }

  /** Stops the workers; waiting and in-flight requests reject with KEFU_ERR_CLOSED. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    const pool = this.pool;
    this.pool = null;
    await pool?.close();
  }
}
