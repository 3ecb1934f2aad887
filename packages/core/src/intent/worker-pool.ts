/**
 * A fixed pool of inference workers with micro-batching: requests queue on the main thread and
 * each idle worker takes up to `maxBatch` of them in one message, so under load one runtime call
 * serves many texts while a lone request still goes out at once. A worker that dies fails only
 * its in-flight batch (KEFU_ERR_INTENT_WORKER_FAILED) and is replaced.
 */
import { Fifo } from '../util/fifo.js';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { EventEmitter } from 'eventemitter3';
import { KefuError, isKefuErrorCode } from '@kefu/protocol';
import type { FromWorker, InitMessage, ResultMessage } from './worker-protocol.js';

export interface PoolRequest {
  text: string;
  resolve(r: { index: Int32Array; prob: Float32Array; oos: Float32Array; margin?: Float32Array; offset: number; k: number }): void;
  reject(err: unknown): void;
}

interface Slot {
  worker: Worker | null;
  ready: boolean;
  batch: PoolRequest[] | null;
  batchId: number;
  timer: NodeJS.Timeout | null;
  failures: number;
  /** The worker's answers come on their own port, which the hot wait can poll synchronously. */
  results: MessagePort | null;
}

export interface PoolEvents {
  /** A worker died or timed out; its in-flight requests were rejected with `error`. */
  'worker-failed': (error: KefuError, slot: number) => void;
  /** A replacement worker is ready. */
  'worker-replaced': (slot: number) => void;
}

export interface PoolSettings {
  workers: number;
  maxBatch: number;
  maxQueue: number;
  timeoutMs: number;
  /** Keep the event loop turning this long after dispatching a lone request (0: off). */
  hotWaitMicros: number;
  init: InitMessage;
}

// after this many replacements in a row that fail to start, the slot stays empty
const MAX_RESTARTS = 3;

function newWorker(): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./intent-worker.js', import.meta.url));
  // running from source under tsx (the tests): worker threads do not inherit its loader hooks
  const src = new URL('./intent-worker.ts', import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(src)}); });`, { eval: true });
}

export class WorkerPool extends EventEmitter<PoolEvents> {
  private readonly slots: Slot[] = [];
  private readonly queue = new Fifo<PoolRequest>();
  private nextId = 1;
  private closed = false;
  private _direct = false;
  private hot = false;
  private hotUntil = 0;

  constructor(private readonly s: PoolSettings) {
    super();
  }

  /** Starts every worker; rejects with the first worker's init error. */
  async start(): Promise<void> {
    for (let i = 0; i < this.s.workers; i++) {
      this.slots.push({ worker: null, ready: false, batch: null, batchId: 0, timer: null, failures: 0, results: null });
    }
    try {
      await Promise.all(this.slots.map((_, i) => this.spawn(i)));
    } catch (err) {
      await this.close();
      throw err;
    }
  }

  /** True when every running worker calls the runtime's native session directly. */
  get direct(): boolean {
    return this._direct;
  }

  get pending(): number {
    return this.queue.size;
  }

  submit(req: PoolRequest): void {
    if (this.closed) {
      req.reject(new KefuError('KEFU_ERR_CLOSED', 'the intent classifier is closed'));
      return;
    }
    if (!this.slots.some((slot) => slot.worker !== null)) {
      req.reject(new KefuError('KEFU_ERR_INTENT_WORKER_FAILED', 'no inference worker is running (replacements failed to start)'));
      return;
    }
    if (this.pending >= this.s.maxQueue) {
      req.reject(new KefuError('KEFU_ERR_INTENT_QUEUE_FULL', `${this.pending} classifications are already waiting (maxQueue)`, { details: { maxQueue: this.s.maxQueue } }));
      return;
    }
    this.queue.push(req);
    this.dispatch();
  }

  /** Test hook: block one worker for `ms`, as a stuck runtime call would. */
  stall(slot: number, ms: number): void {
    this.slots[slot]?.worker?.postMessage({ type: 'stall', ms });
  }

  /** Test hook: make one worker exit as if it crashed. */
  crash(slot: number): void {
    this.slots[slot]?.worker?.postMessage({ type: 'crash' });
  }

  private spawn(i: number): Promise<void> {
    const slot = this.slots[i]!;
    return new Promise((resolve, reject) => {
      const w = newWorker();
      slot.worker = w;
      slot.ready = false;
      const channel = new MessageChannel();
      slot.results = channel.port1;
      // not unref'd: an unref'd port was seen to miss answers (Node 20); it is closed when its worker exits
      channel.port1.on('message', (m: ResultMessage) => this.settle(slot, m));
      let started = false;
      let lastError: unknown;
      w.on('message', (m: FromWorker) => {
        if (m.type === 'ready') {
          started = true;
          slot.ready = true;
          slot.failures = 0;
          // the same runtime and model in every worker: they all take the same path
          this._direct = m.direct;
          resolve();
          this.dispatch();
        } else if (m.type === 'init-error') {
          const code = isKefuErrorCode(m.code) ? m.code : 'KEFU_ERR_INTENT_MODEL_CORRUPT';
          started = true;
          reject(new KefuError(code, m.message));
          void w.terminate();
        }
      });
      w.on('error', (err) => {
        // 'exit' follows and does the bookkeeping
        lastError = err;
      });
      w.on('exit', (code) => {
        channel.port1.close();
        if (slot.worker !== w) return;
        slot.results = null;
        slot.worker = null;
        slot.ready = false;
        const batch = slot.batch;
        this.finish(slot);
        if (!started) {
          started = true;
          reject(new KefuError('KEFU_ERR_INTENT_WORKER_FAILED', `an inference worker exited with code ${code} while starting: ${String(lastError)}`, { cause: lastError }));
        }
        if (this.closed) return;
        const err = new KefuError('KEFU_ERR_INTENT_WORKER_FAILED', `an inference worker exited with code ${code}; it is being replaced`, { cause: lastError, details: { slot: i, exitCode: code } });
        if (batch) for (const r of batch) r.reject(err);
        this.emit('worker-failed', err, i);
        this.replace(i);
      });
      w.postMessage({ ...this.s.init, results: channel.port2 }, [channel.port2]);
    });
  }

  private settle(slot: Slot, m: ResultMessage): void {
    if (m.id !== slot.batchId || !slot.batch) return;
    const batch = slot.batch;
    this.finish(slot);
    if (m.type === 'run-error') {
      const err = new KefuError('KEFU_ERR_INTENT_WORKER_FAILED', `inference failed: ${m.message}`);
      for (const r of batch) r.reject(err);
    } else {
      const k = m.index.length / batch.length;
      batch.forEach((r, j) => r.resolve({ index: m.index, prob: m.prob, oos: m.oos, ...(m.margin ? { margin: m.margin } : {}), offset: j * k, k }));
    }
    this.dispatch();
  }

  private replace(i: number): void {
    const slot = this.slots[i]!;
    if (this.closed || slot.failures >= MAX_RESTARTS) {
      this.failIfNoWorkers();
      return;
    }
    slot.failures++;
    this.spawn(i).then(
      () => this.emit('worker-replaced', i),
      () => this.failIfNoWorkers(),
    );
  }

  private failIfNoWorkers(): void {
    if (this.slots.some((s) => s.worker !== null)) return;
    const err = new KefuError('KEFU_ERR_INTENT_WORKER_FAILED', 'no inference worker could be started');
    for (const r of this.queue.drain()) r.reject(err);
  }

  private finish(slot: Slot): void {
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    slot.batch = null;
  }

  private dispatch(): void {
    for (let i = 0; i < this.slots.length && this.pending > 0; i++) {
      const slot = this.slots[i]!;
      if (!slot.ready || slot.batch || !slot.worker) continue;
      const n = Math.min(this.s.maxBatch, this.pending);
      const batch = this.queue.take(n);
      slot.batch = batch;
      slot.batchId = this.nextId++;
      const w = slot.worker;
      slot.timer = setTimeout(() => {
        // a stuck runtime call: the worker is killed, its batch fails, a new one starts
        const err = new KefuError('KEFU_ERR_TIMEOUT', `a batch of ${batch.length} took longer than ${this.s.timeoutMs} ms`);
        if (slot.batch === batch) {
          this.finish(slot);
          for (const r of batch) r.reject(err);
        }
        void w.terminate();
      }, this.s.timeoutMs);
      slot.timer.unref();
      w.postMessage({ type: 'run', id: slot.batchId, texts: batch.map((r) => r.text) });
      if (n === 1 && this.s.hotWaitMicros > 0) this.keepHot();
    }
  }

  /**
   * A thread that sleeps in epoll while its lone request is computed pays a wake-up when the
   * answer comes (on the VM measured in docs/intent.md, 40-100 µs of the round trip). Turning the
   * event loop with setImmediate instead keeps the thread awake: each turn still polls I/O (with a
   * zero timeout) and runs timers, so nothing else waits, but the thread uses its core meanwhile.
   * Only lone requests (a batch of one) start it: under load the loop is busy anyway.
   */
  private keepHot(): void {
    this.hotUntil = performance.now() + this.s.hotWaitMicros / 1000;
    if (this.hot) return;
    this.hot = true;
    setImmediate(this.turn);
  }

  private readonly turn = (): void => {
    // an answer already in a port is taken here rather than on the port's own event, a turn later
    for (const slot of this.slots) {
      if (!slot.batch || !slot.results) continue;
      const got = receiveMessageOnPort(slot.results);
      if (got) this.settle(slot, got.message as ResultMessage);
    }
    if (this.slots.some((s) => s.batch !== null) && performance.now() < this.hotUntil) setImmediate(this.turn);
    else this.hot = false;
  };

  async close(): Promise<void> {
    this.closed = true;
    const err = new KefuError('KEFU_ERR_CLOSED', 'the intent classifier was closed');
    for (const r of this.queue.drain()) r.reject(err);
    await Promise.all(
      this.slots.map(async (slot) => {
        const batch = slot.batch;
        this.finish(slot);
        if (batch) for (const r of batch) r.reject(err);
        const w = slot.worker;
        slot.worker = null;
        if (w) await w.terminate();
      }),
    );
  }
}
